"""Harness guards that hold for every agent whatever its model says.

Every action passes ``Guard.apply`` before the environment sees it. An offer is rounded into the
domain's range and clamped to the reservation, and its message restated to name the recorded value;
an accept of no offer, or of one past the reservation, becomes a repeat of the agent's last offer;
an emotion outside the taxonomy becomes "neutral"; a message that leaks the reservation has each
leaking sentence replaced by a template line that states the move (``[guard]`` in templates.toml).

The leak rule: a message leaks when it states the reservation (in any form ``agents.leaks`` reads)
while the move it goes with puts another value on the table. An offer of exactly the reservation,
or an accept of an offer equal to it, may state that value: the move itself reveals it. An offer
of 60 saying "my limit is 45" leaks; so does quoting the other side's standing offer when it equals
one's reservation without accepting it, and any statement of it with a walk-away.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from agents.base import Observation, ScenarioView
from agents.leaks import normalise, sentences, states
from agents.texts import fill, load_data
from envs import MAX_MESSAGE_CHARS, Action, sanitize_message

@dataclass
class GuardStats:
    """How often the guards had to step in during one match (each counts moves, not words)."""

    clamped_offers: int = 0
    blocked_accepts: int = 0
    redactions: int = 0  # messages in which sentences stating the reservation were replaced
    repaired_emotions: int = 0

    def to_dict(self) -> dict[str, Any]:
        # not dataclasses.asdict: the match loop calls this twice a move, and asdict deep-copies
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _lines() -> dict[str, str]:
    return load_data("templates.toml")["guard"]


class Guard:
    """Keeps an agent's actions within its reservation, its messages free of its reservation value."""

    def __init__(self, view: ScenarioView, max_chars: int = MAX_MESSAGE_CHARS):
        self.view, self.max_chars = view, max_chars
        self.stats = GuardStats()

    def _beyond_reservation(self, value: int) -> bool:
        return self.view.domain.better(self.view.kind, self.view.reservation, value)

    def _fallback_offer(self, obs: Observation) -> int:
        return obs.my_offer if obs.my_offer is not None else self.view.target

    @staticmethod
    def stated_value(move: str, value: int | None, obs: Observation) -> int | None:
        """The value a move puts on the table: the offer's, the accepted offer's, None for a walk-away."""
        return value if move == "offer" else obs.their_offer if move == "accept" else None

    def leaks(self, message: str, stated: int | None) -> bool:
        """True when ``message`` states the reservation and the move it goes with states another value.

        ``stated`` is what ``stated_value`` gives for the move. Only reads, counts nothing.
        """
        return stated != self.view.reservation and states(normalise(message), self.view.reservation)

    def check(self, action: Action, obs: Observation) -> str | None:
        """Why ``apply`` would change ``action``, in one line, or None when it would let it through.

        For a move that must be refused rather than rewritten (a person's): the reason names the
        person's own limit, which only they see. Counts nothing.
        """
        view, unit = self.view, self.view.domain.unit
        if action.emotion not in view.emotions:
            return f"the emotion {action.emotion!r} is not one of {', '.join(view.emotions)}"
        if action.move == "offer":
            if action.value is None or view.domain.clamp(action.value) != action.value:
                return f"an offer must be a whole number from {view.domain.low} to {view.domain.high} {unit}"
            if self._beyond_reservation(action.value):
                return f"{action.value} {unit} is past your limit of {view.reservation} {unit}"
        elif action.move == "accept":
            if obs.their_offer is None:
                return "there is no offer to accept yet"
            if self._beyond_reservation(obs.their_offer):
                return f"accepting {obs.their_offer} {unit} would go past your limit of {view.reservation} {unit}"
        if self.leaks(action.message, self.stated_value(action.move, action.value, obs)):
            return (f"the message states your limit ({view.reservation} {unit}), which this move does not reveal; "
                    "leave it out")
        return None

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
                message = fill(_lines()["blocked_accept"], {"value": value, "unit": self.view.domain.unit})
        value = value if move == "offer" else None
        return Action(move, value, emotion, self.redact(message, move, self.stated_value(move, value, obs)))

    def redact(self, message: str, move: str = "walk_away", stated: int | None = None) -> str:
        """``message`` sanitised, with every sentence that leaks the reservation replaced (see ``leaks``)."""
        text = sanitize_message(normalise(str(message)), self.max_chars)
        if not self.leaks(text, stated):
            return text
        self.stats.redactions += 1
        line = self._line(move, stated)
        for candidate in (self._replace(text, self.view.reservation, line, stated), line, _lines()["neutral"]):
            candidate = candidate[: self.max_chars]  # cut first: a cut number is another number
            if not self.leaks(candidate, stated):
                return candidate
        return ""  # unreachable: the neutral line names no number

    def _line(self, move: str, stated: int | None) -> str:
        """The template line that says what the move is, in the domain's unit."""
        key = move if move in ("offer", "accept") and stated is not None else "walk_away"
        return fill(_lines()["redacted"][key], {"value": stated, "unit": self.view.domain.unit})

    @staticmethod
    def _replace(text: str, value: int, line: str, stated: int | None) -> str:
        """Sentences stating ``value`` dropped; ``line`` put where the first was, unless what is kept
        already states the move's value (or, for a walk-away, something is kept)."""
        parts = sentences(text)
        bad = [i for i, sentence in enumerate(parts) if states(sentence, value)]
        if not bad:  # no single sentence: the reading spans them
            return line
        kept = [s for i, s in enumerate(parts) if i not in bad]
        rest = " ".join(kept)
        if not rest or (stated is not None and not states(rest, stated)):
            kept.insert(bad[0], line)
        return " ".join(kept)

    def _restate(self, message: str, original: int | None, safe: int) -> str:
        """The message naming the clamped value ``safe`` instead of the agent's ``original`` one."""
        text = sanitize_message(normalise(str(message)), self.max_chars)
        line = self._line("offer", safe)
        if original is not None:
            text = re.sub(rf"(?<![\d.]){original}(?!\d)", str(safe), text)
            if states(text, original):  # the original in another form ("ninety-five"): its sentence goes
                text = self._replace(text, original, line, safe)
        if states(text, safe):
            return text
        return f"{text[: self.max_chars - len(line) - 1]} {line}".strip()  # the line must survive the length cap
