"""Reading served replies without trusting their shape: any body gives text or a named problem.

A server may send anything: a list where an object belongs, content as a list of parts or a number,
an error object with status 200, nesting deep enough to break a recursive parser. These readers never
raise; what they cannot use comes back as a problem, which the backend counts (and, for a reply,
hands to validation as an empty text so the model is asked again with feedback).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_BODY_CHARS = 2_000_000  # far beyond any reply; a longer body is not parsed


@dataclass(frozen=True)
class Reply:
    """What one served reply carried: its text (None if it had none) and its token counts.
    ``cached_tokens`` is None where the server did not say how many prompt tokens it reused."""

    text: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int | None = None
    model: str = ""
    problem: str = ""
    server_error: bool = False  # the body reported an error instead of a reply (a failure, not a reply)


def load_body(text: str) -> tuple[Any, str]:
    """The JSON value of a body, or None and what was wrong with it."""
    if len(text) > MAX_BODY_CHARS:
        return None, f"the body is {len(text)} characters long"
    try:
        return json.loads(text), ""
    except RecursionError:
        return None, "the body is nested too deeply"
    except ValueError:
        return None, "the body is not JSON"


def _count(value: Any) -> int:
    """A token count from whatever the server sent (0 unless a non-negative whole number)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return 0


def _optional_count(value: Any) -> int | None:
    return None if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) else _count(value)


def _text_of(content: Any) -> str | None:
    """Message content as text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        texts = [p for p in parts if isinstance(p, str)]
        return "".join(texts) if texts else None
    return None


def _error_text(body: dict) -> str:
    error = body.get("error")
    message = error.get("message") if isinstance(error, dict) else error
    return str(message)[:200]


def openai_reply(body: Any) -> Reply:
    """A chat-completions body: the first choice's message content, usage and cached tokens (from
    ``usage.prompt_tokens_details.cached_tokens``, else llama-server's ``timings.cache_n``)."""
    if not isinstance(body, dict):
        return Reply(None, problem=f"the body is {type(body).__name__}, not an object")
    choices = body.get("choices")
    if body.get("error") is not None and not choices:
        return Reply(None, problem=f"the server sent an error: {_error_text(body)}", server_error=True)
    first = choices[0] if isinstance(choices, list) and choices else None
    message = first.get("message") if isinstance(first, dict) else None
    text = _text_of(message.get("content")) if isinstance(message, dict) else None
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    details = usage.get("prompt_tokens_details") if isinstance(usage.get("prompt_tokens_details"), dict) else {}
    timings = body.get("timings") if isinstance(body.get("timings"), dict) else {}
    cached = _optional_count(details.get("cached_tokens"))
    if cached is None:
        cached = _optional_count(timings.get("cache_n"))
    model = body.get("model") if isinstance(body.get("model"), str) else ""
    problem = "" if text is not None else "the reply has no text content"
    return Reply(text, _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens")), cached, model,
                 problem)


def ollama_reply(body: Any) -> Reply:
    """An ``/api/chat`` body: ``message.content``, ``prompt_eval_count`` (the whole prompt),
    ``eval_count`` and ``prompt_eval_cached_count`` (reported by servers since late 2026)."""
    if not isinstance(body, dict):
        return Reply(None, problem=f"the body is {type(body).__name__}, not an object")
    if body.get("error") is not None and "message" not in body:
        return Reply(None, problem=f"the server sent an error: {_error_text(body)}", server_error=True)
    message = body.get("message")
    text = _text_of(message.get("content")) if isinstance(message, dict) else None
    model = body.get("model") if isinstance(body.get("model"), str) else ""
    problem = "" if text is not None else "the reply has no text content"
    return Reply(text, _count(body.get("prompt_eval_count")), _count(body.get("eval_count")),
                 _optional_count(body.get("prompt_eval_cached_count")), model, problem)


def error_names_model(body_text: str, model: str) -> bool:
    """Whether an error body says the model is missing (a 404 for any other reason is not that)."""
    lowered = body_text.lower()
    return model.lower() in lowered and any(w in lowered for w in ("not found", "does not exist", "no such", "pull"))
