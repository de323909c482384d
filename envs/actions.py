"""The action type, its move vocabulary and the message character set."""
from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any

MOVES: tuple[str, ...] = ("offer", "accept", "walk_away")
HISTORY_KINDS: tuple[str, ...] = ("none",) + MOVES  # slot codes in the observation's history
MAX_MESSAGE_CHARS = 500

# Printable ASCII plus newline and the typographic characters real messages use.
# gymnasium's Text default is alphanumeric only, which rejects ordinary prose.
MESSAGE_CHARSET: str = (
    string.ascii_letters + string.digits + string.punctuation + " \n" + "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u20ac\u00a3\u00e9"
)
_OUTSIDE_CHARSET = re.compile("[^" + re.escape(MESSAGE_CHARSET) + "]")
_TRANSLATE = {ord("\t"): " ", ord("\r"): None, ord("\u00a0"): " "}


def sanitize_message(text: Any, max_chars: int = MAX_MESSAGE_CHARS) -> str:
    """Make any value a safe message: str, no control or out-of-charset characters, capped length."""
    cleaned = _OUTSIDE_CHARSET.sub("", str(text).translate(_TRANSLATE))
    return cleaned.strip()[:max_chars]


@dataclass(frozen=True)
class Action:
    """One move: offer a value, accept the counterpart's standing offer, or walk away.

    Every move carries the emotion the agent expresses (a taxonomy label) and a message.
    """

    move: str
    value: int | None = None
    emotion: str = "neutral"
    message: str = ""

    @classmethod
    def offer(cls, value: int, emotion: str = "neutral", message: str = "") -> "Action":
        return cls("offer", int(value), emotion, message)

    @classmethod
    def accept(cls, emotion: str = "neutral", message: str = "") -> "Action":
        return cls("accept", None, emotion, message)

    @classmethod
    def walk_away(cls, emotion: str = "neutral", message: str = "") -> "Action":
        return cls("walk_away", None, emotion, message)

    def replace(self, **changes: Any) -> "Action":
        """A copy with some fields changed."""
        fields = {"move": self.move, "value": self.value, "emotion": self.emotion, "message": self.message}
        fields.update(changes)
        return Action(**fields)
