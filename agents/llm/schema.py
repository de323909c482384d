"""JSON schemas for structured replies: a negotiation action, or an emotion label."""
from __future__ import annotations

from typing import Any

from envs import MOVES, Domain


def action_schema(domain: Domain, emotions: tuple[str, ...], max_chars: int = 240) -> dict[str, Any]:
    """The schema of ``{"move", "value", "emotion", "message"}`` within the domain's bounds."""
    return {
        "type": "object",
        "properties": {
            "move": {"type": "string", "enum": list(MOVES)},
            "value": {"type": "integer", "minimum": domain.low, "maximum": domain.high},
            "emotion": {"type": "string", "enum": list(emotions)},
            "message": {"type": "string", "minLength": 1, "maxLength": max_chars},
        },
        "required": ["move", "value", "emotion", "message"],
    }


def label_schema(labels: tuple[str, ...]) -> dict[str, Any]:
    """The schema of ``{"emotion": label}``."""
    return {
        "type": "object",
        "properties": {"emotion": {"type": "string", "enum": list(labels)}},
        "required": ["emotion"],
    }
