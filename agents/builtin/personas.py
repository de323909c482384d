"""Counterpart personas: plain, cheating, threatening, victim (definitions in data/personas.toml)."""
from __future__ import annotations

from typing import Any

from agents.base import Observation, ScenarioView
from agents.builtin.common import Negotiator, check_number
from agents.registry import register
from agents.response_model import DEFAULT_RESPONSE_MODEL, concession_factor, load_response_model
from agents.sensing import shared_lexicon_sensor
from agents.tactics import accepts, time_dependent_fraction
from agents.texts import fill, load_data
from envs import COUNTERPART, Action


class Persona(Negotiator):
    """A counterpart with a concession curve, expressed emotions, tactic lines and emotional susceptibility."""

    roles = frozenset({COUNTERPART})
    persona = "vanilla-counterpart"
    uses_response_model = True  # the tournament's response_model reaches it as the parameter of that name
    parameters = {"exponent": "concession exponent of its time curve",
                  "response_model": "default, flat, reversed or a .toml file (set by the tournament)"}

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> None:
        super().check_params(params)
        check_number(params, "exponent", 0, above=True)
        if "response_model" in params:
            if not isinstance(params["response_model"], str):
                raise ValueError(f"response_model must be a name or a .toml path, got {params['response_model']!r}")
            load_response_model(params["response_model"])  # a ConfigError (a ValueError) names the problem

    @property
    def spec(self) -> dict:
        return load_data("personas.toml")[self.persona]

    def reset(self, view: ScenarioView, role: str, seed: int) -> None:
        super().reset(view, role, seed)
        self.sensor = shared_lexicon_sensor()
        self.conceded = 0.0  # fraction of the way from target to reservation
        self.last_progress = 0.0
        self.last_sensed: dict[str, float] = {}

    def _step(self, obs: Observation) -> float:
        exponent = float(self.params.get("exponent", self.spec["exponent"]))
        base = time_dependent_fraction(obs.progress, exponent) - time_dependent_fraction(self.last_progress, exponent)
        self.last_progress = obs.progress
        self.last_sensed = self.sensor.sense(obs.last_message) if obs.last_message else {}
        model = self.params.get("response_model", DEFAULT_RESPONSE_MODEL)
        return base * (concession_factor(self.last_sensed, self.persona, model) if self.last_sensed else 1.0)

    def _emotion(self) -> str:
        weights = self.spec["emotions"]
        labels = list(weights)
        probs = [weights[label] for label in labels]
        total = sum(probs)
        return labels[int(self.rng.choice(len(labels), p=[p / total for p in probs]))]

    def propose(self, obs: Observation) -> Action:
        emotion = self._emotion()
        if obs.my_offer is not None:
            self.conceded = min(1.0, self.conceded + self._step(obs))
            if self.rng.random() < self.spec.get("retract_chance", 0.0) and obs.turn >= 4:
                self.conceded *= 0.6  # a promise walked back: the offer moves back toward the target
        elif obs.last_message:
            self.last_sensed = self.sensor.sense(obs.last_message)
        late_and_apart = obs.progress > 0.6 and obs.their_offer is not None and self.view.gain(obs.their_offer) < 0
        if late_and_apart and self.rng.random() < self.spec["walk_away_chance"]:
            return Action.walk_away(emotion)
        my_next = self.view.at(self.conceded)
        if accepts(self.view, obs, my_next):
            return Action.accept(emotion)
        return Action.offer(my_next, emotion)

    def extra_lines(self, obs: Observation, proposal: Action) -> tuple[str, ...]:
        lines = self.spec["lines"]
        if not lines or self.rng.random() >= self.spec["line_chance"]:
            return ()
        fake_limit = proposal.value if proposal.value is not None else self.view.target
        line = lines[int(self.rng.integers(len(lines)))]
        return (fill(line, {"fake_limit": fake_limit, "unit": self.view.domain.unit}),)

    def persona_prompt(self) -> str:
        return self.spec["prompt"]


def _persona_class(key: str) -> type[Persona]:
    spec = load_data("personas.toml")[key]
    class_name = f"Persona_{key.replace('-', '_')}"
    cls = type(class_name, (Persona,), {"name": key, "persona": key, "description": spec["description"],
                                        "__doc__": spec["description"], "__module__": __name__,
                                        "__qualname__": class_name})
    return register(key)(cls)


VanillaCounterpart = _persona_class("vanilla-counterpart")
Cheating = _persona_class("cheating")
Threatening = _persona_class("threatening")
Victim = _persona_class("victim")
