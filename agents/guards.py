"""Harness guards that hold for every agent whatever its model says."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from agents.base import Observation, ScenarioView
from agents.leaks import normalise, value_pattern
from agents.texts import fill, load_data
from envs import MAX_MESSAGE_CHARS, Action, sanitize_message


@dataclass
class GuardStats:
    """How often the guards had to step in during one match."""

    clamped_offers: int = 0
    blocked_accepts: int = 0
    redactions: int = 0
    repaired_emotions: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


REDACTED = "that"  # a plain word, not a marker that would tell the other side a limit was stated


class Guard:
    """Keeps an agent's actions within its reservation, its messages free of its reservation value."""

    def __init__(self, view: ScenarioView, max_chars: int = MAX_MESSAGE_CHARS):
        self.view, self.max_chars = view, max_chars
        self.stats = GuardStats()
        self._secret = value_pattern(view.reservation)

    def _beyond_reservation(self, value: int) -> bool:
        return self.view.domain.better(self.view.kind, self.view.reservation, value)

    def _fallback_offer(self, obs: Observation) -> int:
        return obs.my_offer if obs.my_offer is not None else self.view.target

    def redact(self, message: str) -> str:
        text = sanitize_message(normalise(str(message)), self.max_chars)
        cleaned, count = self._secret.subn(REDACTED, text)
        self.stats.redactions += count
        return cleaned[: self.max_chars]

    def apply(self, action: Action, obs: Observation) -> Action:
        """The action made safe: in range, within reservation, accept only a standing acceptable offer."""
        emotion = action.emotion
        if emotion not in self.view.emotions:
            self.stats.repaired_emotions += 1
            emotion = "neutral"
        move, value, message = action.move, action.value, action.message
        if move == "offer":
            safe = self.view.domain.clamp(value if value is not None else self._fallback_offer(obs))
            if self._beyond_reservation(safe):
                safe = self.view.reservation
            if safe != value:
                self.stats.clamped_offers += 1
                message = self._restate(message, value, safe)
            value = safe
        elif move == "accept":
            if obs.their_offer is None or self._beyond_reservation(obs.their_offer):
                self.stats.blocked_accepts += 1
                move, value = "offer", self._fallback_offer(obs)
                key = "blocked_accept_at_limit" if value == self.view.reservation else "blocked_accept"
                message = fill(load_data("templates.toml")["guard"][key], {"value": value, "unit": self.view.domain.unit})
        return Action(move, value if move == "offer" else None, emotion, self.redact(message))

    def _restate(self, message: str, original: int | None, safe: int) -> str:
        """The message with the clamped value in place of the original one, so text and record agree."""
        if original is not None:
            restated, count = re.subn(rf"(?<![\d.]){original}(?!\d)", str(safe), message)
            if count:
                return restated
        if safe == self.view.reservation:  # stating it would leak it; the message names no other number
            return message
        return f"{message} My offer: {safe} {self.view.domain.unit}.".strip()
