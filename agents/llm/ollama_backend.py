"""Served models through the official ``ollama`` client: its configured HTTP client carries each chat
(host, headers and key as the client sets them), and the body is read without trusting its shape."""
from __future__ import annotations

import os
from typing import Any, Mapping

import httpx
import ollama

from agents.llm import transport
from agents.llm.base import ChatRequest, ConfigError
from agents.llm.openai_backend import pool_size
from agents.llm.replies import Reply, ollama_reply
from agents.llm.served import PROBE_TIMEOUT_S, ServedBackend

DEFAULT_HOST = "http://127.0.0.1:11434"


def resolve_host(host: str | None) -> str:
    """``--ollama-host``, else ``OLLAMA_HOST``, else the local default."""
    return host or os.environ.get("OLLAMA_HOST") or DEFAULT_HOST


class OllamaBackend(ServedBackend):
    """Chat through an Ollama server; schemas go to ``format=`` and are validated on return anyway."""

    kind = "ollama"

    def __init__(self, model: str, host: str | None = None, timeout: float = 60.0, keep_alive: str | float = "5m",
                 **retry: Any):
        if not model:
            raise ConfigError("the ollama backend needs a model name (--model NAME)")
        super().__init__(model, resolve_host(host), timeout, **retry)
        self.keep_alive = keep_alive
        self._async: ollama.AsyncClient | None = None

    def describe(self) -> str:
        return f"Ollama at {self.host}"

    def missing_model(self) -> str:
        return f"model {self.model!r} is not on the Ollama server at {self.host}; run: ollama pull {self.model}"

    def refused(self, status: int) -> str:
        return f"Ollama at {self.host} refused the request ({status}): check OLLAMA_API_KEY"

    def preflight(self) -> None:
        """Fail at once if the server is unreachable or does not have the model."""
        client = ollama.Client(host=self.host, timeout=min(self.timeout, 30.0))
        try:
            listed = client.list()
        except (ConnectionError, httpx.HTTPError) as exc:
            raise ConfigError(f"cannot reach the Ollama server at {self.host}: {exc}") from None
        except (ollama.ResponseError, ValueError, TypeError, KeyError, AttributeError) as exc:  # e.g. an HTML page
            status = getattr(exc, "status_code", None)
            raise ConfigError(f"{self.host} does not answer as an Ollama server (GET /api/tags gave "
                              f"{'HTTP ' + str(status) if status else type(exc).__name__}); check --ollama-host") from None
        names = {m.model for m in listed.models} | {(m.model or "").split(":")[0] for m in listed.models}
        if self.model not in names and f"{self.model}:latest" not in names:
            raise ConfigError(f"model {self.model!r} is not on the Ollama server at {self.host}; "
                              f"run: ollama pull {self.model}")

    def _client(self) -> ollama.AsyncClient:
        if self._async is None:  # made on the loop that uses it
            size = pool_size(self.host)
            self._async = ollama.AsyncClient(host=self.host, timeout=self.timeout,
                                             limits=httpx.Limits(max_connections=size, max_keepalive_connections=size))
            transport.on_exit(self._async.close)
        return self._async

    def payload(self, request: ChatRequest) -> dict[str, Any]:
        opts = request.options
        return {"model": self.model, "messages": list(request.messages), "format": request.schema or "",
                "options": {"temperature": opts.temperature, "seed": opts.seed, "num_predict": opts.max_tokens,
                            "num_ctx": opts.num_ctx},
                "keep_alive": self.keep_alive, "stream": False}

    async def send(self, payload: dict[str, Any], timeout: float) -> tuple[int, Mapping[str, str], str]:
        # the official client turns a status into an exception whose body it may fail to read; its
        # HTTP client (configured by it) gives the status and body as they came
        response = await self._client()._client.post("/api/chat", json=payload, timeout=timeout)
        return response.status_code, response.headers, response.content.decode("utf-8", "replace")

    def read(self, body: Any) -> Reply:
        return ollama_reply(body)

    async def probe(self) -> None:
        response = await self._client()._client.get("/api/tags", timeout=PROBE_TIMEOUT_S)
        response.raise_for_status()
