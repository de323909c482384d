"""The scripted backend: no model. It realises the agent's own proposal from templates."""
from __future__ import annotations

import zlib
import time

from agents.llm.base import Backend, ChatRequest, Completion
from agents.texts import emotion_phrases, fill, templates


def _pick(options: list[str], *keys: object) -> str:
    """A deterministic choice (crc32 is stable across processes, unlike hash())."""
    return options[zlib.crc32(repr(keys).encode()) % len(options)]


def realise_message(hints: dict, seed: int) -> str:
    """A message for the proposal in ``hints``: an emotion phrase, extra lines, and a filled template."""
    domain, kind, move = hints["domain"], hints["kind"], hints["move"]
    turn = hints.get("turn", 0)
    values = dict(hints.get("context", {}))
    values.update(value=hints.get("value"), unit=hints.get("unit", ""))
    parts = []
    emotion = hints.get("emotion", "neutral")
    if emotion != "neutral" or hints.get("always_phrase"):
        parts.append(_pick(emotion_phrases(emotion), seed, turn, "emotion"))
    parts.extend(hints.get("extra_lines", []))
    parts.append(fill(_pick(templates(domain, kind, move), seed, turn, move), values))
    return " ".join(p for p in parts if p)


class ScriptedBackend(Backend):
    """Deterministic templates per domain, role and emotion; fast, offline and reproducible."""

    kind = "scripted"
    model = "scripted"

    def complete(self, request: ChatRequest) -> Completion:
        start = time.perf_counter()
        hints = request.hints
        data = None
        if "move" in hints:
            message = realise_message(hints, request.options.seed)
            data = {"move": hints["move"], "value": hints.get("value"),
                    "emotion": hints.get("emotion", "neutral"), "message": message}
            text = message
        else:
            text = hints.get("label", "neutral")
            data = {"emotion": text}
        return Completion(text=text, data=data if request.schema is not None else None,
                          prompt_tokens=0, completion_tokens=0,
                          latency_s=time.perf_counter() - start, model=self.model)
