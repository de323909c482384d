"""EQ-Negotiator's first version (arXiv 2503.21080) as its own agent.

The hidden states are the agent's own seven emotions. Until at least 3 of a full window of the
last 5 sensed emotions are negative it plays the payoff best response to the sensed emotion (ties
broken at random, as published); then it predicts its next emotion as argmax_j T[c, j] * E[j, o] *
bias_j, with c its current emotion, o the counterpart's, T and E count tables that every observed
turn updates, and a negative bias that leans towards firm emotions, so it answers persistent
negativity with measured anger. Shares sensing, gate and expression with ``eq-negotiator``.

Deviation (parameter ``update_timing``): the published code adds each turn's counts at once
("turn"); since T is learned from the agent's own choices, that locks it onto whatever it picked
first (against a threatening counterpart it never reached anger). By default ("negotiation") a
negotiation's counts are added when it ends, so it learns across negotiations instead.
docs/papers/eq-negotiator.md maps it to the paper.
"""
from __future__ import annotations

import numpy as np

from agents.base import ScenarioView
from agents.builtin.eq_negotiator import EmotionReasoner
from agents.eq_model import AgentEmotionHMM
from agents.registry import register
from agents.sensing import argmax_label
from agents.texts import load_data
from envs import EKMAN_7, Outcome


@register("eq-negotiator-v1")
class EQNegotiatorV1(EmotionReasoner):
    """Focal role, every domain. Parameters: sensor ("auto", "lexicon", "llm"), exponent (0.6),
    update_timing ("negotiation", default, or "turn" as published)."""

    name = "eq-negotiator-v1"
    parameters = {"sensor": "auto, lexicon or llm", "update_timing": "negotiation (default) or turn"}
    description = "EQ-Negotiator v1: payoff best response; 7-state HMM with negative bias after 3 of 5 negatives."

    @classmethod
    def check_params(cls, params: dict) -> None:
        super().check_params(params)
        if params.get("update_timing", "negotiation") not in ("negotiation", "turn"):
            raise ValueError(f"update_timing must be negotiation or turn, got {params['update_timing']!r}")

    def __init__(self, backend=None, **params):
        super().__init__(backend, **params)
        cfg = load_data("eq_negotiator.toml")
        self.payoff = np.asarray(cfg["payoff"], dtype=float)
        v1 = cfg["v1"]
        self.gate_window, self.gate_negatives = v1["gate_window"], v1["gate_negatives"]
        self.hmm = AgentEmotionHMM(v1["transition"], cfg["influence"], v1["negative_bias"])
        self.per_turn = params.get("update_timing", "negotiation") == "turn"
        self.turns: list[tuple[int | None, int, int]] = []

    def reset(self, view: ScenarioView, role: str, seed: int) -> None:
        super().reset(view, role, seed)
        self.last_pick: int | None = None
        self.pick_before: int | None = None
        self.turns = []

    def gate_open(self) -> bool:
        return len(self.sensed) >= self.gate_window and super().gate_open()

    def choose(self, sensed: dict[str, float] | None) -> int:
        observed = EKMAN_7.index("neutral")  # the opening answers a neutral counterpart
        if sensed is not None:
            observed = EKMAN_7.index(argmax_label(sensed))
            self.sensed.append(EKMAN_7[observed])
            if self.last_pick is not None:  # the reply to our last emotion: count it
                self.turns.append((self.pick_before, self.last_pick, observed))
                if self.per_turn:
                    self.hmm.observe(*self.turns[-1])
        if self.gate_open() and self.last_pick is not None:
            choice = int(np.argmax(self.hmm.scores(self.last_pick, observed)))
        else:
            row = self.payoff[observed]
            choice = int(self.rng.choice(np.flatnonzero(row == row.max())))
        self.pick_before, self.last_pick = self.last_pick, choice
        return choice

    def on_outcome(self, outcome: Outcome) -> None:
        if not self.per_turn:
            for turn in self.turns:
                self.hmm.observe(*turn)
