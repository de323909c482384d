"""A base for the built-in agents: a strategy proposes, the speaker expresses."""
from __future__ import annotations

from typing import Any

from agents.base import Agent, Observation, ScenarioView
from agents.llm import CallStats, GenerationOptions
from agents.speaking import Speaker
from agents.tactics import accepts, time_dependent_fraction
from envs import EKMAN_7, Action


def check_number(params: dict[str, Any], key: str, minimum: float, whole: bool = False,
                 above: bool = False) -> None:
    """A ValueError unless ``params[key]`` (when given) is a number (whole if asked) at least (or,
    with ``above``, more than) ``minimum``."""
    if key not in params:
        return
    value = params[key]
    kind = "a whole number" if whole else "a number"
    ok = isinstance(value, int if whole else (int, float)) and not isinstance(value, bool)
    if not ok or (value <= minimum if above else value < minimum):
        bound = f"{'above' if above else 'at least'} {minimum:g}"
        raise ValueError(f"{key} must be {kind} {bound}, got {value!r}")


class Negotiator(Agent):
    """Built-in negotiators. ``propose`` is the scripted strategy; with a model backend the model
    decides instead, steered by ``persona_prompt`` and ``guidance`` (unless ``uses_model`` is False).
    """

    uses_model = True
    parameters = {"temperature": "sampling temperature of the model (model backends)",
                  "max_tokens": "reply length cap (model backends)",
                  "max_retries": "retries after an invalid model reply (default 2)"}

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> None:
        super().check_params(params)
        check_number(params, "temperature", 0)
        check_number(params, "max_tokens", 1, whole=True)
        check_number(params, "max_retries", 0, whole=True)

    def reset(self, view: ScenarioView, role: str, seed: int) -> None:
        super().reset(view, role, seed)
        options = GenerationOptions(temperature=float(self.params.get("temperature", 0.7)),
                                    max_tokens=int(self.params.get("max_tokens", 256)))
        self.speaker = Speaker(self.backend, view, view.speech_seed, options, int(self.params.get("max_retries", 2)))

    @property
    def call_stats(self) -> CallStats:
        return self.speaker.stats

    def propose(self, obs: Observation) -> Action:
        raise NotImplementedError

    def extra_lines(self, obs: Observation, proposal: Action) -> tuple[str, ...]:
        return ()

    def persona_prompt(self) -> str:
        return ""

    def guidance(self, obs: Observation, proposal: Action) -> str:
        return ""

    def model_emotions(self, proposal: Action) -> tuple[str, ...]:
        """Labels the model may choose from (a single label forces the emotion)."""
        return EKMAN_7

    def act(self, obs: Observation) -> Action:
        proposal = self.propose(obs)
        if self.backend.is_scripted or not self.uses_model:
            return self.speaker.realise(proposal, obs, self.extra_lines(obs, proposal))
        return self.speaker.decide(obs, self.persona_prompt(), self.guidance(obs, proposal),
                                   self.model_emotions(proposal))


class TimeDependent(Negotiator):
    """Concede along ``target + (reservation - target) * t^(1/e)``; accept what beats the next own offer."""

    exponent = 1.0
    parameters = {"exponent": "concession exponent e of target + (reservation - target) * t^(1/e)"}

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> None:
        super().check_params(params)
        check_number(params, "exponent", 0, above=True)

    def planned_offer(self, obs: Observation) -> int:
        e = float(self.params.get("exponent", self.exponent))
        return self.view.at(time_dependent_fraction(obs.progress, e))

    def decide_move(self, obs: Observation, my_next: int, emotion: str = "neutral") -> Action:
        if accepts(self.view, obs, my_next):
            return Action.accept(emotion)
        return Action.offer(my_next, emotion)

    def propose(self, obs: Observation) -> Action:
        return self.decide_move(obs, self.planned_offer(obs))
