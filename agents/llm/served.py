"""What the Ollama and OpenAI-compatible backends share: every request through the process's loop
(agents.llm.transport), bounded retries, rate limits honoured, deadlines that hold, host health.

A request ends in one of four ways: a reply (its text may still be unusable: validation decides);
a ConfigError the user must fix (a refused key, a model the server lacks), which stops the run; a
BackendError for this request alone (it errors its match, counted, and the run goes on); or
HostUnavailable, when the host no longer answers anything (its work moves to another host).
"""
from __future__ import annotations

import asyncio
import email.utils
import math
import time
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, Mapping

from agents.llm import transport
from agents.llm.base import (Backend, BackendError, ChatRequest, Completion, ConfigError, HostUnavailable, cap_reply,
                             parse_json_object)
from agents.llm.replies import Reply, error_names_model, load_body

RATE_LIMITED = frozenset({429, 503})  # the server is full: wait (Retry-After), send fewer at once
RETRYABLE = frozenset({408, 409, 500, 502, 504})  # a failure of this attempt: retry, then check the host
MAX_RETRY_AFTER_S = 60.0  # a Retry-After is honoured up to this
MAX_RATE_LIMIT_WAITS = 30  # and at most this many times per request, within rate_limit_budget_s
PROBE_TIMEOUT_S = 5.0


class DeadlineExceeded(BackendError):
    """The match's wall-clock budget ran out during a request."""


@dataclass(frozen=True)
class Attempt:
    """One send: the status, headers and body the server answered, or why there was no answer."""

    status: int | None = None
    headers: Mapping[str, str] | None = None
    body: str = ""
    failure: str = ""


def retry_after_s(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), capped; None if absent."""
    value = (headers or {}).get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return min(MAX_RETRY_AFTER_S, max(0.0, seconds)) if math.isfinite(seconds) else None


class ServedBackend(Backend):
    """A model behind HTTP. Subclasses say how to send a request, read a reply and check the host."""

    def __init__(self, model: str, host: str, timeout: float = 60.0, max_retries: int = 4, backoff_s: float = 0.5,
                 max_backoff_s: float = 8.0, rate_limit_budget_s: float = 300.0):
        super().__init__()
        self.model, self.host, self.timeout = model, host, timeout
        self.max_retries, self.backoff_s, self.max_backoff_s = max_retries, backoff_s, max_backoff_s
        self.rate_limit_budget_s = rate_limit_budget_s

    @abstractmethod
    def payload(self, request: ChatRequest) -> dict[str, Any]:
        """The request body."""

    @abstractmethod
    async def send(self, payload: dict[str, Any], timeout: float) -> tuple[int, Mapping[str, str], str]:
        """Send one request; the status, headers and body text (transport errors raise)."""

    @abstractmethod
    def read(self, body: Any) -> Reply:
        """The reply in a parsed body (never raises)."""

    @abstractmethod
    async def probe(self) -> None:
        """Raise unless the host answers a cheap request (its model list)."""

    def describe(self) -> str:
        return self.host

    def refused(self, status: int) -> str:
        """The one line for a refused key (401/403): the run stops, nothing is retried."""
        return f"{self.describe()} refused the request ({status}): check its API key"

    def missing_model(self) -> str:
        """The one line for a server that does not have the model."""
        return f"model {self.model!r} is not served at {self.describe()}"

    def complete(self, request: ChatRequest) -> Completion:
        start = time.perf_counter()
        until = min(transport.deadline_at() or math.inf,
                    time.monotonic() + (self.timeout + self.max_backoff_s) * (self.max_retries + 1)
                    + self.rate_limit_budget_s)
        reply, retries, waits = transport.run(self._exchange(self.payload(request), until))
        self.calls += 1
        text, oversized = cap_reply(reply.text or "")
        usable = request.schema is not None and not oversized and reply.text is not None
        return Completion(text=text, data=parse_json_object(text) if usable else None, oversized=oversized,
                          prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens,
                          latency_s=time.perf_counter() - start, model=reply.model or self.model,
                          transport_retries=retries, rate_limited=waits, cached_tokens=reply.cached_tokens,
                          problem=reply.problem)

    async def _attempt(self, payload: dict[str, Any], until: float) -> Attempt:
        timeout = min(self.timeout, until - time.monotonic())
        if timeout <= 0:
            raise DeadlineExceeded(f"the match's time ran out before a reply from {self.describe()}")
        async with transport.gate(self.host).slot() as slot:
            try:
                status, headers, body = await asyncio.wait_for(self.send(payload, timeout), timeout)
            except asyncio.TimeoutError:
                failure = f"no complete answer within {timeout:.1f}s"
            except Exception as exc:  # connection refused or reset, a protocol error: no answer
                failure = type(exc).__name__
            else:
                if status in RATE_LIMITED:
                    slot.full, slot.pause_s = True, retry_after_s(headers) or 0.0
                return Attempt(status, headers, body)
        if time.monotonic() >= until:
            raise DeadlineExceeded(f"the match's time ran out waiting for {self.describe()}")
        return Attempt(failure=failure)

    async def _exchange(self, payload: dict[str, Any], until: float) -> tuple[Reply, int, int]:
        """Send until a reply comes; returns it with the retries and rate-limit waits it took (a call
        that fails says what it spent in its BackendError)."""
        spent = [0, 0]
        try:
            return await self._send_until_reply(payload, until, spent)
        except BackendError as exc:
            exc.retries, exc.rate_limited = spent
            raise

    async def _send_until_reply(self, payload: dict[str, Any], until: float, spent: list[int]) -> tuple[Reply, int, int]:
        started, retries, waits, failures = time.monotonic(), 0, 0, 0
        while True:
            spent[:] = retries, waits
            attempt = await self._attempt(payload, until)
            reply, failure = self._judge(attempt)
            if reply is not None:
                self._count(reply, waits)
                return reply, retries, waits
            if attempt.status in RATE_LIMITED and waits < MAX_RATE_LIMIT_WAITS \
                    and time.monotonic() - started < self.rate_limit_budget_s:
                waits += 1
                pause = retry_after_s(attempt.headers) or self._backoff(waits)
            else:
                failures += 1
                if failures > self.max_retries:
                    raise await self._gave_up(failures, failure, retries)
                pause = self._backoff(failures)
            retries += 1
            await asyncio.sleep(min(pause, max(0.0, until - time.monotonic())))

    def _judge(self, attempt: Attempt) -> tuple[Reply | None, str]:
        """A usable reply, or why this attempt failed; raises for what retrying cannot mend."""
        status = attempt.status
        if status is None:
            return None, attempt.failure
        if 200 <= status < 300:
            body, problem = load_body(attempt.body)
            reply = self.read(body) if not problem else Reply(None, problem=problem, server_error=True)
            return (None, reply.problem) if reply.server_error else (reply, "")
        if status in (401, 403):
            raise ConfigError(self.refused(status))
        if status == 404 and error_names_model(attempt.body, self.model):
            raise ConfigError(self.missing_model())
        if status not in RATE_LIMITED and status not in RETRYABLE and status < 500:
            raise BackendError(f"{self.describe()} refused this request with {status}: {attempt.body[:200]}")
        return None, f"HTTP {status}"

    async def _gave_up(self, tries: int, failure: str, retries: int) -> BackendError:
        """HostUnavailable if the host answers nothing else either; else this request alone failed."""
        try:
            await asyncio.wait_for(self.probe(), PROBE_TIMEOUT_S)
        except Exception:
            return HostUnavailable(self.host, f"{self.describe()} failed {tries} times ({failure}) and no longer "
                                              "answers its model list", retries)
        return BackendError(f"{self.describe()} failed this request {tries} times ({failure}) while answering "
                            "others; the match errors, the run goes on")

    def _backoff(self, n: int) -> float:
        return min(self.max_backoff_s, self.backoff_s * 2 ** (n - 1))

    @staticmethod
    def _count(reply: Reply, waits: int) -> None:
        gauges = transport.GAUGES
        gauges.requests += 1
        gauges.rate_limited += waits
        gauges.prompt_tokens += reply.prompt_tokens
        gauges.completion_tokens += reply.completion_tokens
        if reply.cached_tokens is not None:
            gauges.cached_tokens += reply.cached_tokens
            gauges.cache_reported_prompt_tokens += reply.prompt_tokens
