"""LLM replies are untrusted input: validate, retry with feedback, fall back, and count it all."""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any, Callable, TypeVar

from agents.llm.base import Backend, BackendError, ChatRequest, Completion, GenerationOptions, parse_json_object
from envs import MOVES, Action, Domain, sanitize_message

T = TypeVar("T")
FEEDBACK = "Your reply was invalid: {error}. Answer again with only the JSON object, nothing else."


@dataclass
class CallStats:
    """What an agent's model use cost in one match."""

    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    transport_retries: int = 0
    malformed: int = 0
    fallbacks: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    oversized: int = 0
    rate_limited: int = 0
    cached_tokens: int | None = None  # prompt tokens the server reused (None: no reply said)
    latency_s: float = 0.0

    def record(self, completion: Completion) -> None:
        self.requests += 1
        self.oversized += int(completion.oversized)
        self.cache_hits += int(completion.cached)
        self.transport_retries += completion.transport_retries
        self.rate_limited += completion.rate_limited
        if completion.cached_tokens is not None:
            self.cached_tokens = (self.cached_tokens or 0) + completion.cached_tokens
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens
        self.latency_s += completion.latency_s

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_ASCII_INT = re.compile(r"-?[0-9]{1,11}")


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _ASCII_INT.fullmatch(value.strip()):  # "²" is a digit to str.isdigit()
        return int(value.strip())
    return None


def parse_action(data: Any, domain: Domain, emotions: tuple[str, ...], max_chars: int) -> tuple[Action | None, str]:
    """An Action from a parsed reply, or None and the reason; never raises."""
    if not isinstance(data, dict):
        return None, "the reply is not a JSON object"
    move = data.get("move")
    if not isinstance(move, str) or move.strip().lower() not in MOVES:
        return None, f"'move' must be one of {', '.join(MOVES)}"
    move = move.strip().lower()
    emotion = data.get("emotion")
    if not isinstance(emotion, str) or emotion.strip().lower() not in emotions:
        return None, "'emotion' must be one of the listed emotion labels"
    message = data.get("message")
    if not isinstance(message, str) or not sanitize_message(message, max_chars):
        return None, "'message' must be a non-empty string"
    value = _as_int(data.get("value"))
    if move == "offer":
        if value is None:
            return None, "'value' must be a whole number"
        if not domain.low <= value <= domain.high:
            return None, f"'value' must be between {domain.low} and {domain.high} {domain.unit}"
    else:
        value = None
    return Action(move, value, emotion.strip().lower(), sanitize_message(message, max_chars)), ""


def parse_reply_text(text: Any, domain: Domain, emotions: tuple[str, ...], max_chars: int) -> tuple[Action | None, str]:
    """Parse raw reply text (any junk around the JSON is tolerated); never raises."""
    if not isinstance(text, str):
        return None, "the reply is not text"
    return parse_action(parse_json_object(text[:20_000]), domain, emotions, max_chars)


def request_structured(backend: Backend, messages: list[dict[str, str]], schema: dict[str, Any],
                       options: GenerationOptions, validate: Callable[[Completion], tuple[T | None, str]],
                       stats: CallStats, max_retries: int = 2, hints: dict[str, Any] | None = None) -> T | None:
    """Ask until a reply validates (at most ``1 + max_retries`` calls); None means: use the fallback."""
    history = list(messages)
    for attempt in range(max_retries + 1):
        request = ChatRequest(tuple(history), schema, options.with_seed(options.seed + attempt), hints or {})
        try:
            completion = backend.complete(request)
        except BackendError as exc:  # the call failed: what it spent still counts
            stats.transport_retries += exc.retries
            stats.rate_limited += exc.rate_limited
            raise
        stats.record(completion)
        result, error = validate(completion)
        if result is not None:
            backend.keep(request, completion)
            return result
        stats.malformed += 1
        if attempt < max_retries:
            stats.retries += 1
            history += [{"role": "assistant", "content": sanitize_message(completion.text, 400) or "(empty)"},
                        {"role": "user", "content": FEEDBACK.format(error=error)}]
    stats.fallbacks += 1
    return None
