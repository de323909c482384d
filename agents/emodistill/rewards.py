"""The outcome-shaped return R(tau) = sum_t w(t) [dctp_t - dfoc_t] + R_term, direction-aware.

For focal turn t (1-based): dctp_t is the counterpart's concession in reply to it and dfoc_t the
focal concession the turn made, both in gap coordinates (so normalised by the initial gap) and
clipped to +-2; w(t) = 1 - t/T with T the number of focal turns the message budget allows (the
original code divided focal turns by the message budget, so w never fell below about 0.5);
R_term = +2 on agreement and -2 on breakdown, added to the last turn.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from agents.emodistill.features import GapFrame

TERMINAL_REWARD = 2.0


@dataclass(frozen=True)
class EpisodeRewards:
    """Per focal turn rewards (terminal reward included in the last) and the episode return."""

    step_rewards: list[float]
    total: float


def _clip(x: float) -> float:
    return max(-2.0, min(2.0, x))


def episode_rewards(frame: GapFrame, moves: list[tuple[str, str, int | None]], agreement: bool,
                    max_messages: int) -> EpisodeRewards:
    """Rewards for each focal turn of an episode given its public moves (kind, move, value)."""
    horizon = math.ceil(max_messages / 2)
    focal_prev, counter_prev = 0.0, 1.0
    rewards: list[float] = []
    for i, (kind, move, value) in enumerate(moves):
        if kind != "focal":
            continue
        t = len(rewards) + 1
        d_foc = 0.0
        if move == "offer":
            d_foc = _clip(frame(value) - focal_prev)
            focal_prev = frame(value)
        reply = moves[i + 1] if i + 1 < len(moves) else None
        d_ctp = 0.0
        if reply is not None and reply[1] == "offer":
            d_ctp = _clip(counter_prev - frame(reply[2]))
            counter_prev = frame(reply[2])
        weight = max(0.0, min(1.0, 1.0 - t / horizon))
        rewards.append(weight * (d_ctp - d_foc))
    if rewards:
        rewards[-1] += TERMINAL_REWARD if agreement else -TERMINAL_REWARD
    return EpisodeRewards(rewards, sum(rewards))
