"""The selector's state: the EmoDistill paper's features, made direction-aware in every domain.

Values are mapped to gap coordinates, g(x) = (x - focal target) / (counterpart target - focal
target): the focal target sits at 0 and the counterpart target at 1 in every domain, whichever way
each side prefers. A counterpart concession lowers g and a focal concession raises it, so the same
signs hold in credit and sleep (focal prefers low) as in rescue and hospital (focal prefers high),
where the original code had them backwards.

The paper's last feature, the previous emotion as index/27, imposes an order on unordered labels
(admiration sits next to amusement, neutral far from both), which the network would first have to
undo; it is replaced by a one-hot over the 28 GoEmotions labels (all zero on the first turn).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from envs import GOEMOTIONS_28

BASE_FEATURES = ("counterpart_concession", "spread", "progress", "counterpart_position", "focal_drift",
                 "recent_concession_mean", "stalemate", "deal_proximity", "breakdown_risk")
FEATURE_NAMES = BASE_FEATURES + tuple(f"previous_{label}" for label in GOEMOTIONS_28)
STATE_DIM = len(FEATURE_NAMES)
EMOTION_INDEX = {label: i for i, label in enumerate(GOEMOTIONS_28)}


@dataclass(frozen=True)
class GapFrame:
    """Gap coordinates for one scenario, seen from the focal side."""

    focal_target: float
    counterpart_target: float

    @property
    def gap(self) -> float:
        gap = self.counterpart_target - self.focal_target
        return gap if abs(gap) >= 1 else (1.0 if gap >= 0 else -1.0)

    def __call__(self, value: float) -> float:
        return (value - self.focal_target) / self.gap


def observable_frame(focal_target: float, moves: Iterable[tuple[str, str, int | None]]) -> GapFrame:
    """The frame the focal side can know: the counterpart's target is private, so its first offer
    stands in for it (in training and at play time alike). Before the counterpart has offered, no
    value needs mapping and a unit frame is returned."""
    first = next((v for k, m, v in moves if k == "counterpart" and m == "offer"), None)
    return GapFrame(focal_target, first if first is not None else focal_target + 1)


def _clip(x: float, lo: float = -2.0, hi: float = 2.0) -> float:
    return float(min(hi, max(lo, x)))


def state_features(frame: GapFrame, moves: Iterable[tuple[str, str, int | None]], turn: int, max_messages: int,
                   previous_emotion: str | None) -> np.ndarray:
    """Features before a focal turn: ``moves`` are the public (kind, move, value) so far, ``turn``
    the index of the message about to be sent."""
    focal = [frame(v) for k, m, v in moves if k == "focal" and m == "offer"]
    counter = [frame(v) for k, m, v in moves if k == "counterpart" and m == "offer"]
    f_cur = focal[-1] if focal else 0.0
    c_cur = counter[-1] if counter else 1.0
    c_hist = [1.0] + counter
    concessions = [a - b for a, b in zip(c_hist, c_hist[1:])]
    stalemate = 0
    for step in reversed(concessions):
        if abs(step) * abs(frame.gap) >= 1.0:
            break
        stalemate += 1
    progress = min(1.0, turn / max_messages)
    spread = _clip(c_cur - f_cur)
    base = [
        _clip(concessions[-1]) if concessions else 0.0,
        spread,
        progress,
        _clip(c_cur, -1.0, 2.0),
        _clip(f_cur, -1.0, 2.0),
        _clip(float(np.mean(concessions[-3:]))) if concessions else 0.0,
        min(1.0, stalemate / 10),
        1.0 - min(1.0, abs(spread)),       # computed stand-ins for the paper's observer-LLM slots
        progress * min(1.0, abs(spread)),
    ]
    onehot = np.zeros(len(GOEMOTIONS_28), dtype=np.float32)
    if previous_emotion in EMOTION_INDEX:
        onehot[EMOTION_INDEX[previous_emotion]] = 1.0
    return np.concatenate([np.asarray(base, dtype=np.float32), onehot])
