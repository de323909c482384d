"""Helpers for the EQ-Negotiator tests: an agent reset on a credit scenario, sensed evidence, turns."""
from __future__ import annotations

from agents.base import ScenarioView
from agents.builtin.eq_negotiator import EQNegotiator
from envs import EKMAN_7, FOCAL, Outcome, load_scenarios

AGREED = Outcome("credit-000", "credit", True, 10, 8, "accept")
BROKE = Outcome("credit-000", "credit", False, None, 30, "message_limit")


def make(cls=EQNegotiator, seed: int = 1, **params):
    """An agent of ``cls`` reset as the focal side of the first credit scenario."""
    agent = cls(**params)
    agent.reset(ScenarioView.of(load_scenarios("credit")[0], FOCAL, 30, "goemotions-28"), FOCAL, seed)
    return agent


def evidence(label: str, p: float = 0.9) -> dict[str, float]:
    """A sensed distribution with ``p`` on ``label`` and the rest spread evenly."""
    return {e: p if e == label else (1 - p) / 6 for e in EKMAN_7}


def feed(agent, labels: list[str]) -> list[str]:
    """The emotions chosen for an opening turn and then one turn per sensed label (as propose does)."""
    chosen = [EKMAN_7[agent.choose(None)]]
    agent.expressed.append(chosen[-1])
    for label in labels:
        chosen.append(EKMAN_7[agent.choose(evidence(label))])
        agent.expressed.append(chosen[-1])
    return chosen


def index(label: str) -> int:
    return EKMAN_7.index(label)
