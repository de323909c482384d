"""The backend interface: chat messages in, reply text (and parsed data) out, with token counts."""
from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, replace
from typing import Any


class BackendError(RuntimeError):
    """A model call failed after its retries (transport errors, timeouts, server errors); it says
    what the call spent, so the match still counts it."""

    retries: int = 0  # re-sends the failed call made
    rate_limited: int = 0  # times it waited on a full server


class HostUnavailable(BackendError):
    """A served-model host stopped answering (connection, timeout or server errors after every retry);
    the runner moves the host's sessions to another host of the same model, if there is one."""

    def __init__(self, host: str, message: str, retries: int = 0):
        super().__init__(message)
        self.host = host
        self.retries = retries  # re-sends spent on the host before it was given up (kept in the match record)


class ConfigError(ValueError):
    """A usage or configuration problem the user must fix (unknown model, unreachable host, ...)."""


@dataclass(frozen=True)
class GenerationOptions:
    """Sampling options for one call; the seed makes a call reproducible."""

    temperature: float = 0.7
    seed: int = 0
    max_tokens: int = 160
    timeout: float = 60.0
    num_ctx: int = 2048

    def with_seed(self, seed: int) -> "GenerationOptions":
        return replace(self, seed=seed)


@dataclass(frozen=True)
class ChatRequest:
    """What an agent asks of a backend.

    ``schema`` is a JSON schema the reply must follow (or None for free text). ``hints`` carry
    the agent's own proposal (domain, role, move, value, emotion, context); the scripted backend
    realises it as text, model backends ignore it.
    """

    messages: tuple[dict[str, str], ...]
    schema: dict[str, Any] | None = None
    options: GenerationOptions = field(default_factory=GenerationOptions)
    hints: dict[str, Any] = field(default_factory=dict)

    def cache_key(self, backend: str, model: str) -> str:
        """A stable digest of everything that determines the reply (hints excluded: they are not a prompt)."""
        payload = {"backend": backend, "model": model, "options": asdict(self.options) | {"timeout": None},
                   "messages": list(self.messages), "schema": self.schema}
        if backend == "scripted":
            payload["hints"] = self.hints
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Completion:
    """A backend's reply with its cost."""

    text: str
    data: dict[str, Any] | None
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    model: str
    cached: bool = False  # replayed from the response cache (no model call)
    transport_retries: int = 0  # re-sends this call needed (failures and rate-limit waits)
    oversized: bool = False  # the reply was longer than MAX_REPLY_CHARS and was cut (never parsed)
    rate_limited: int = 0  # times the server answered "full" (429/503) and the call waited
    cached_tokens: int | None = None  # prompt tokens the server reused from its cache (None: not reported)
    problem: str = ""  # why the reply had no usable text, if it had none


MAX_REPLY_CHARS = 8000  # far beyond any valid action; a longer reply is cut before parsing and caching


def cap_reply(text: str) -> tuple[str, bool]:
    """The reply cut to MAX_REPLY_CHARS, and whether it had to be cut."""
    return (text[:MAX_REPLY_CHARS], True) if len(text) > MAX_REPLY_CHARS else (text, False)


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text``, or None; never raises."""
    try:
        value = json.loads(text)
        if isinstance(value, dict):
            return value
    except (ValueError, RecursionError):
        pass
    start = text.find("{")
    while start != -1:
        try:
            value, _ = json.JSONDecoder().raw_decode(text, start)
            if isinstance(value, dict):
                return value
        except (ValueError, RecursionError):
            pass
        start = text.find("{", start + 1)
    return None


class Backend(ABC):
    """Something that answers chat requests. Subclasses set ``kind`` and ``model``."""

    kind: str = "abstract"
    model: str = ""

    def __init__(self) -> None:
        self.calls = 0  # model calls actually made (cache hits excluded)

    @abstractmethod
    def complete(self, request: ChatRequest) -> Completion:
        """Answer one request."""

    @property
    def identity(self) -> str:
        """What the response cache keys on besides the request: the model and anything that changes its replies."""
        return self.model

    @property
    def is_scripted(self) -> bool:
        return self.kind == "scripted"

    def preflight(self) -> None:
        """Fail fast with a ConfigError if the backend cannot work (default: nothing to check)."""

    def keep(self, request: ChatRequest, completion: Completion) -> None:
        """A reply that passed validation: a backend that remembers replies keeps this one (default:
        nothing). Replies never validated are never remembered, so a rerun asks for them again."""


class AgentBackend(Backend):
    """One agent's view of a backend shared by every agent of a process: it counts the requests this
    agent made, so a match records what each agent actually used (a shared count would also hold the
    other agent's requests, and other matches' on other threads)."""

    def __init__(self, inner: Backend):  # no Backend.__init__: ``calls`` is the shared backend's
        self.inner, self.kind, self.model = inner, inner.kind, inner.model
        self.asked = 0

    def complete(self, request: ChatRequest) -> Completion:
        self.asked += 1
        return self.inner.complete(request)

    def keep(self, request: ChatRequest, completion: Completion) -> None:
        self.inner.keep(request, completion)

    def preflight(self) -> None:
        self.inner.preflight()

    @property
    def identity(self) -> str:
        return self.inner.identity

    def __getattr__(self, name: str):  # the rest of the shared backend (calls, hits, its own knobs)
        return getattr(self.inner, name)
