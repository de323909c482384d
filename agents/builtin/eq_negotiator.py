"""EQ-Negotiator (after arXiv 2511.03370 and 2503.21080): emotion sensing, an online HMM, game theory.

Each turn it senses the counterpart's emotion, filters its belief over the counterpart's
disposition, and picks its own emotion: win-stay/lose-shift on the payoff table, switching to an
HMM-guided choice (expected payoff under the predicted next disposition, plus a per-disposition
stance) when at least 4 of the last 5 sensed emotions are negative. Its concession schedule is
vanilla's, so a comparison with vanilla isolates the effect of the emotions.
"""
from __future__ import annotations

import numpy as np

from agents.base import Observation, ScenarioView
from agents.builtin.common import TimeDependent
from agents.eq_model import DispositionHMM
from agents.registry import register
from agents.sensing import NEGATIVE, LLMSensor, argmax_label, shared_lexicon_sensor
from agents.texts import emotion_style, load_data
from envs import EKMAN_7, FOCAL, Action, Outcome


@register("eq-negotiator")
class EQNegotiator(TimeDependent):
    """Focal role, every domain. Parameters: sensor ("auto", "lexicon", "llm"), exponent (0.6)."""

    name = "eq-negotiator"
    description = "Emotion sensing + online HMM over the counterpart's disposition + payoff-table WSLS."
    roles = frozenset({FOCAL})
    exponent = 0.6

    def __init__(self, backend=None, **params):
        super().__init__(backend, **params)
        self.cfg = load_data("eq_negotiator.toml")
        self.payoff = np.asarray(self.cfg["payoff"], dtype=float)
        self.stance = np.asarray(self.cfg["stance"], dtype=float)
        self.hmm = DispositionHMM(seed=int(params.get("seed", 0)))

    def reset(self, view: ScenarioView, role: str, seed: int) -> None:
        super().reset(view, role, seed)
        self.hmm.reset()
        choice = self.params.get("sensor", "auto")
        use_llm = choice == "llm" or (choice == "auto" and not self.backend.is_scripted)
        self.sensor = LLMSensor(self.speaker) if use_llm else shared_lexicon_sensor()
        self.sensed: list[str] = []
        self.expressed: list[str] = []
        self.pairs: list[tuple[int, int]] = []

    # ----- emotion choice -----------------------------------------------------------------
    def hmm_scores(self) -> np.ndarray:
        """Expected payoff of each own emotion under the predicted disposition, plus the stance bonus."""
        utility = self.hmm.emission @ self.payoff + self.stance  # dispositions x own emotions
        return self.hmm.predict_state() @ utility

    def gate_open(self) -> bool:
        window = self.sensed[-self.cfg["gate_window"]:]
        return sum(label in NEGATIVE for label in window) >= self.cfg["gate_negatives"]

    def wsls(self) -> str:
        last = EKMAN_7.index(self.sensed[-1])
        previous = self.expressed[-1] if self.expressed else "neutral"
        if self.payoff[last, EKMAN_7.index(previous)] >= self.cfg["win_threshold"]:
            return previous
        row = self.payoff[last]
        best = np.flatnonzero(row == row.max())
        scores = self.hmm_scores()
        return EKMAN_7[int(best[np.argmax(scores[best])])]

    def observe_message(self, obs: Observation) -> None:
        if obs.last_message:
            sensed = self.sensor.sense(obs.last_message, obs.turn)
            self.hmm.update(sensed)
            self.sensed.append(argmax_label(sensed))

    def choose_emotion(self) -> str:
        if not self.sensed:
            return "neutral"
        if self.gate_open():
            return EKMAN_7[int(np.argmax(self.hmm_scores()))]
        return self.wsls()

    # ----- agent contract -----------------------------------------------------------------
    def propose(self, obs: Observation) -> Action:
        self.observe_message(obs)
        emotion = self.choose_emotion()
        if self.sensed:
            self.pairs.append((EKMAN_7.index(self.sensed[-1]), EKMAN_7.index(emotion)))
        self.expressed.append(emotion)
        return self.decide_move(obs, self.planned_offer(obs), emotion)

    def guidance(self, obs: Observation, proposal: Action) -> str:
        return f"Express {proposal.emotion}: {emotion_style(proposal.emotion)}"

    def model_emotions(self, proposal: Action) -> tuple[str, ...]:
        return (proposal.emotion,)

    def on_outcome(self, outcome: Outcome) -> None:
        """Learn across negotiations: payoff entries of the pairs used, and the HMM's parameters."""
        step = self.cfg["payoff_learning_rate"] * (1.0 if outcome.agreement else -0.5)
        for sensed, own in self.pairs:
            self.payoff[sensed, own] += step
        self.hmm.end_negotiation()
