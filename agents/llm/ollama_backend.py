"""Served models through the official ``ollama`` client, with timeouts and bounded retries."""
from __future__ import annotations

import os
import time
from typing import Any

import httpx
import ollama

from agents.llm.base import (Backend, BackendError, ChatRequest, Completion, ConfigError, HostUnavailable, cap_reply,
                             parse_json_object)

DEFAULT_HOST = "http://127.0.0.1:11434"
RETRYABLE_STATUS = {500, 502, 503, 504}


def resolve_host(host: str | None) -> str:
    """``--ollama-host``, else ``OLLAMA_HOST``, else the local default."""
    return host or os.environ.get("OLLAMA_HOST") or DEFAULT_HOST


class OllamaBackend(Backend):
    """Chat through an Ollama server; schemas go to ``format=`` and are validated on return anyway."""

    kind = "ollama"

    def __init__(self, model: str, host: str | None = None, timeout: float = 60.0, keep_alive: str | float = "5m",
                 max_retries: int = 4, backoff_s: float = 0.5, max_backoff_s: float = 8.0):
        super().__init__()
        if not model:
            raise ConfigError("the ollama backend needs a model name (--model NAME)")
        self.model, self.host = model, resolve_host(host)
        self.timeout, self.keep_alive = timeout, keep_alive
        self.max_retries, self.backoff_s, self.max_backoff_s = max_retries, backoff_s, max_backoff_s
        self._client = ollama.Client(host=self.host, timeout=timeout)

    def preflight(self) -> None:
        """Fail at once if the server is unreachable or does not have the model."""
        try:
            listed = self._client.list()
        except (ConnectionError, httpx.HTTPError) as exc:
            raise ConfigError(f"cannot reach the Ollama server at {self.host}: {exc}") from None
        except (ollama.ResponseError, ValueError, TypeError, KeyError) as exc:  # e.g. an HTML page
            status = getattr(exc, "status_code", None)
            raise ConfigError(f"{self.host} does not answer as an Ollama server (GET /api/tags gave "
                              f"{'HTTP ' + str(status) if status else type(exc).__name__}); check --ollama-host") from None
        names = {m.model for m in listed.models} | {(m.model or "").split(":")[0] for m in listed.models}
        if self.model not in names and f"{self.model}:latest" not in names:
            raise ConfigError(f"model {self.model!r} is not on the Ollama server at {self.host}; "
                              f"run: ollama pull {self.model}")

    def _chat(self, request: ChatRequest) -> Any:
        opts = request.options
        return self._client.chat(
            model=self.model, messages=list(request.messages), format=request.schema or "",
            options={"temperature": opts.temperature, "seed": opts.seed, "num_predict": opts.max_tokens,
                     "num_ctx": opts.num_ctx},
            keep_alive=self.keep_alive)

    def complete(self, request: ChatRequest) -> Completion:
        start = time.perf_counter()
        retries = 0
        for attempt in range(self.max_retries + 1):
            try:
                reply = self._chat(request)
                break
            except ollama.ResponseError as exc:
                if exc.status_code == 404:
                    raise ConfigError(f"model {self.model!r} is not on the Ollama server at {self.host}; "
                                      f"run: ollama pull {self.model}") from None
                if exc.status_code not in RETRYABLE_STATUS:
                    raise BackendError(f"Ollama at {self.host} answered {exc.status_code}: {exc.error}") from None
                if attempt == self.max_retries:
                    raise HostUnavailable(self.host, f"Ollama at {self.host} answered {exc.status_code} "
                                                     f"{attempt + 1} times: {exc.error}") from None
            except (ConnectionError, httpx.TimeoutException, httpx.TransportError, ValueError) as exc:
                # ValueError covers a reply body that is not valid JSON (pydantic's errors subclass it)
                if attempt == self.max_retries:
                    raise HostUnavailable(self.host, f"Ollama at {self.host} failed after {attempt + 1} tries: "
                                                     f"{type(exc).__name__}: {exc}") from None
            retries += 1
            time.sleep(min(self.max_backoff_s, self.backoff_s * 2 ** attempt))
        self.calls += 1
        text, oversized = cap_reply(reply.message.content or "")
        return Completion(
            text=text, data=parse_json_object(text) if request.schema is not None and not oversized else None,
            oversized=oversized,
            prompt_tokens=int(reply.prompt_eval_count or 0), completion_tokens=int(reply.eval_count or 0),
            latency_s=time.perf_counter() - start, model=reply.model or self.model, transport_retries=retries)
