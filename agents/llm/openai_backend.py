"""Any OpenAI-compatible server (vLLM, SGLang, llama.cpp's server, LM Studio, a hosted API) through
the official ``openai`` client, its retries off: ours are bounded, counted and honour Retry-After.

The API key is read from an environment variable whose *name* is configured (default
``OPENAI_API_KEY``); the key itself is never written to ``tournament.toml`` or the results.
"""
from __future__ import annotations

import json
import os
from typing import Any, Mapping

import httpx2
import openai

from agents.llm import transport
from agents.llm.base import ChatRequest, ConfigError
from agents.llm.replies import Reply, openai_reply
from agents.llm.served import PROBE_TIMEOUT_S, ServedBackend

DEFAULT_KEY_ENV = "OPENAI_API_KEY"


def pool_size(host: str) -> int:
    """Enough pooled connections for this process's share of the host's cap."""
    return transport.share_of(host) + 8


class OpenAIBackend(ServedBackend):
    """Chat completions with ``response_format`` carrying the action's JSON schema (validated on return anyway)."""

    kind = "openai"

    def __init__(self, model: str, base_url: str | None, api_key_env: str = DEFAULT_KEY_ENV, timeout: float = 60.0,
                 **retry: Any):
        if not model:
            raise ConfigError("the openai backend needs a model name (--model NAME)")
        if not base_url:
            raise ConfigError("the openai backend needs a server: --base-url URL (e.g. http://127.0.0.1:8000/v1)")
        super().__init__(model, base_url.rstrip("/"), timeout, **retry)
        self.api_key_env = api_key_env
        self._key = os.environ.get(api_key_env) or "not-needed"  # local servers accept any key
        self._async: openai.AsyncOpenAI | None = None

    def preflight(self) -> None:
        """Fail at once if the server is unreachable, refuses the key or does not serve the model."""
        client = openai.OpenAI(base_url=self.host, api_key=self._key, timeout=min(self.timeout, 30.0), max_retries=0)
        try:
            names = {m.id for m in client.models.list()}
        except openai.AuthenticationError:
            raise ConfigError(f"{self.host} refused the API key (from ${self.api_key_env})") from None
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            raise ConfigError(f"cannot reach the OpenAI-compatible server at {self.host}: {exc}") from None
        except (openai.APIStatusError, ValueError, TypeError, AttributeError) as exc:
            status = getattr(exc, "status_code", None)
            raise ConfigError(f"{self.host} does not answer as an OpenAI-compatible server (GET /models gave "
                              f"{'HTTP ' + str(status) if status else type(exc).__name__})") from None
        finally:
            client.close()
        if self.model not in names:
            shown = ", ".join(sorted(names)[:5]) or "none"
            raise ConfigError(f"model {self.model!r} is not served at {self.host} (it serves: {shown})")

    def refused(self, status: int) -> str:
        return f"{self.host} refused the API key (from ${self.api_key_env})"

    def _client(self) -> openai.AsyncOpenAI:
        if self._async is None:  # made on the loop that uses it; aiohttp: the client's fast transport
            size = pool_size(self.host)
            self._async = openai.AsyncOpenAI(
                base_url=self.host, api_key=self._key, timeout=self.timeout, max_retries=0,
                http_client=openai.DefaultAioHttpClient(
                    timeout=self.timeout, limits=httpx2.Limits(max_connections=size, max_keepalive_connections=size)))
            transport.on_exit(self._async.close)
            headers = {k: v for k, v in self._async.default_headers.items() if isinstance(v, str)}
            self._headers = headers | self._async.auth_headers
            self._chat_url = f"{self._async.base_url}chat/completions"
        return self._async

    def payload(self, request: ChatRequest) -> dict[str, Any]:
        opts = request.options
        body: dict[str, Any] = {"model": self.model, "messages": list(request.messages),
                                "temperature": opts.temperature, "seed": opts.seed, "max_tokens": opts.max_tokens}
        if request.schema is not None:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "reply", "schema": request.schema, "strict": False}}
        return body

    async def send(self, payload: dict[str, Any], timeout: float) -> tuple[int, Mapping[str, str], str]:
        # the client's own HTTP client (its aiohttp transport, pool, headers and key) carries the chat;
        # its typed request layer is skipped: at hundreds of requests a second it was over half of the
        # arena's CPU per call (benchmarks/served_throughput.py), and the body is read untrusted anyway
        http = self._client()._client
        response = await http.post(self._chat_url, content=json.dumps(payload).encode(), headers=self._headers,
                                   timeout=timeout)
        return response.status_code, response.headers, response.content.decode("utf-8", "replace")

    def read(self, body: Any) -> Reply:
        return openai_reply(body)

    async def probe(self) -> None:
        await self._client().models.list(timeout=PROBE_TIMEOUT_S)
