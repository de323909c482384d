"""EQ-Negotiator (arXiv 2511.03370; its first version, 2503.21080, is ``eq_negotiator_v1``).

Each turn it senses the counterpart's emotion and picks its own by the published rule: the best
response on the agent payoff row of the sensed emotion (first index on ties: joy->joy,
sadness->sadness, anger->surprise, fear->neutral, surprise->surprise, disgust->joy,
neutral->joy), shifting to the second best when the previous best-response pick "lost", i.e. its
payoff fell below tau = 2.0. Which payoff is the parameter ``lose_shift``: "own-payoff" (default,
as published) is the value the pick had on the row it was picked from; "reply-payoff" (this
project's earlier reading, a named deviation) is its payoff against the newly sensed reply. With
the initial table "own-payoff" fires only once learning has pushed a row's best below 2.0.
When at least 4 of the last 5 sensed emotions are negative it
switches to an HMM-guided choice: the belief over the counterpart's disposition (filtered with the
sensed emotion as evidence) predicts the next disposition, and each own emotion e scores its
expected payoff sum_s p(s) sum_j P(j | s, e) payoff(j, e), where the reply emotion j follows the
disposition's emissions reweighted by how the counterpart answers e (Table 4b). After each
negotiation every turn's (sensed, own) payoff entry moves by 0.05 x (+1 on agreement, -0.5 on
breakdown), kept within the table's range [0, 4]. Vanilla's concession schedule, so a paired
comparison with vanilla isolates the emotions. docs/papers/eq-negotiator.md maps it to the paper.
"""
from __future__ import annotations

import numpy as np

from agents.base import Observation, ScenarioView
from agents.builtin.common import TimeDependent, check_number
from agents.eq_model import DispositionHMM
from agents.registry import register
from agents.sensing import NEGATIVE, LLMSensor, argmax_label, shared_lexicon_sensor
from agents.texts import emotion_style, load_data
from envs import EKMAN_7, FOCAL, Action, Outcome


LOSE_SHIFT_READINGS = {
    "own-payoff": "as published: the previous best-response pick's payoff on the row it was picked from",
    "reply-payoff": "deviation: the previous pick's payoff against the emotion sensed in the reply",
}


def ranked(row: np.ndarray) -> np.ndarray:
    """Own emotions from best to worst payoff, the first index winning ties (as numpy's argmax)."""
    return np.argsort(-row, kind="stable")


class EmotionReasoner(TimeDependent):
    """What both EQ-Negotiator versions share: sensing, the negativity gate, the turn record and
    expression; subclasses implement ``choose`` (an Ekman-7 index)."""

    roles = frozenset({FOCAL})
    exponent = 0.6
    gate_window = 5
    gate_negatives = 4

    @classmethod
    def check_params(cls, params: dict) -> None:
        super().check_params(params)
        if params.get("sensor", "auto") not in ("auto", "lexicon", "llm"):
            raise ValueError(f"sensor must be auto, lexicon or llm, got {params['sensor']!r}")

    def reset(self, view: ScenarioView, role: str, seed: int) -> None:
        super().reset(view, role, seed)
        choice = self.params.get("sensor", "auto")
        use_llm = choice == "llm" or (choice == "auto" and not self.backend.is_scripted)
        self.sensor = LLMSensor(self.speaker) if use_llm else shared_lexicon_sensor()
        self.sensed: list[str] = []     # the counterpart emotion sensed in each of its messages
        self.expressed: list[str] = []

    def gate_open(self) -> bool:
        window = self.sensed[-self.gate_window:]
        return sum(label in NEGATIVE for label in window) >= self.gate_negatives

    def observe_message(self, obs: Observation) -> dict[str, float] | None:
        """Sense the counterpart's last message (None before it has spoken)."""
        if not obs.last_message:
            return None
        return self.sensor.sense(obs.last_message, obs.turn)

    def choose(self, sensed: dict[str, float] | None) -> int:
        raise NotImplementedError

    def propose(self, obs: Observation) -> Action:
        sensed = self.observe_message(obs)
        emotion = EKMAN_7[self.choose(sensed)]
        self.expressed.append(emotion)
        return self.decide_move(obs, self.planned_offer(obs), emotion)

    def guidance(self, obs: Observation, proposal: Action) -> str:
        return f"Express {proposal.emotion}: {emotion_style(proposal.emotion)}"

    def model_emotions(self, proposal: Action) -> tuple[str, ...]:
        return (proposal.emotion,)


@register("eq-negotiator")
class EQNegotiator(EmotionReasoner):
    """Focal role, every domain. Parameters: sensor ("auto", "lexicon", "llm"), exponent (0.6),
    lose_shift ("own-payoff", as published, or "reply-payoff"), stance_weight (0: off, as
    published; 1: this project's old per-disposition bonus)."""

    name = "eq-negotiator"
    parameters = {"sensor": "auto, lexicon or llm", "stance_weight": "weight of the optional stance bonus (0)",
                  "lose_shift": "own-payoff (as published) or reply-payoff: which payoff of the previous pick "
                                "is compared with tau = 2.0",
                  "seed": "seed of the HMM re-fits"}
    description = "Payoff best response with lose-shift; HMM over the counterpart's disposition under pressure."

    @classmethod
    def check_params(cls, params: dict) -> None:
        super().check_params(params)
        check_number(params, "stance_weight", 0)
        check_number(params, "seed", 0, whole=True)
        if params.get("lose_shift", "own-payoff") not in LOSE_SHIFT_READINGS:
            raise ValueError(f"lose_shift must be one of {', '.join(LOSE_SHIFT_READINGS)}, got {params['lose_shift']!r}")

    def __init__(self, backend=None, **params):
        super().__init__(backend, **params)
        self.cfg = load_data("eq_negotiator.toml")
        self.gate_window, self.gate_negatives = self.cfg["gate_window"], self.cfg["gate_negatives"]
        self.payoff = np.asarray(self.cfg["payoff"], dtype=float)
        self.influence = np.asarray(self.cfg["influence"], dtype=float)
        self.stance = float(params.get("stance_weight", 0.0)) * np.asarray(self.cfg["stance"], dtype=float)
        self.check_params(params)  # built directly (not through a tournament), a bad value still fails at once
        self.lose_shift = params.get("lose_shift", "own-payoff")
        self.hmm = DispositionHMM(seed=int(params.get("seed", 0)))
        self.pairs: list[tuple[int, int]] = []
        self.shift_counts = {"best_response": 0, "shifted": 0}  # over the agent's life, for measurement

    def reset(self, view: ScenarioView, role: str, seed: int) -> None:
        super().reset(view, role, seed)
        self.hmm.reset()
        self.pairs = []
        self.pick_payoff: float | None = None  # the last best-response pick's payoff on its own row

    def lost(self, sensed: int) -> bool:
        """Whether the previous pick lost (its payoff below tau), by the ``lose_shift`` reading."""
        if self.lose_shift == "own-payoff":
            payoff = self.pick_payoff
        else:
            payoff = self.payoff[sensed, EKMAN_7.index(self.expressed[-1])] if self.expressed else None
        return payoff is not None and payoff < self.cfg["lose_threshold"]

    def best_response(self, sensed: int) -> int:
        """The published rule: best on the sensed row, second best after a lost previous pick."""
        order = ranked(self.payoff[sensed])
        shift = self.lost(sensed)
        choice = int(order[1] if shift else order[0])
        self.pick_payoff = float(self.payoff[sensed, choice])
        self.shift_counts["best_response"] += 1
        self.shift_counts["shifted"] += shift
        return choice

    def hmm_scores(self) -> np.ndarray:
        """Expected payoff of each own emotion e under the predicted disposition (plus the optional stance)."""
        reply = self.hmm.emission[:, None, :] * self.influence[None, :, :]  # [state, own e, reply j]
        reply /= reply.sum(axis=2, keepdims=True)
        per_state = np.einsum("sej,je->se", reply, self.payoff) + self.stance
        return self.hmm.predict_state() @ per_state

    def choose(self, sensed: dict[str, float] | None) -> int:
        label = self.cfg["first_input"]
        if sensed is not None:
            self.hmm.update(sensed)
            label = argmax_label(sensed)
            self.sensed.append(label)
        index = EKMAN_7.index(label)
        choice = int(np.argmax(self.hmm_scores())) if self.gate_open() else self.best_response(index)
        self.pairs.append((index, choice))
        return choice

    def on_outcome(self, outcome: Outcome) -> None:
        """Learn across negotiations: the payoff entries of the pairs used (bounded), and the HMM."""
        step = self.cfg["payoff_learning_rate"] * (1.0 if outcome.agreement else -0.5)
        low, high = self.cfg["payoff_bounds"]
        for sensed, own in self.pairs:
            self.payoff[sensed, own] = min(high, max(low, self.payoff[sensed, own] + step))
        self.hmm.end_negotiation()
