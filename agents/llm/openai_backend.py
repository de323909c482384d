"""Any OpenAI-compatible server (vLLM, llama.cpp's server, LM Studio, a hosted API) through the
official ``openai`` client, with timeouts and bounded retries of our own (so they are counted).

The API key is read from an environment variable whose *name* is configured (default
``OPENAI_API_KEY``); the key itself is never written to ``tournament.toml`` or the results.
"""
from __future__ import annotations

import os
import time
from typing import Any

import openai

from agents.llm.base import (Backend, BackendError, ChatRequest, Completion, ConfigError, HostUnavailable, cap_reply,
                             parse_json_object)

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}


class OpenAIBackend(Backend):
    """Chat completions with ``response_format`` carrying the action's JSON schema (validated on return anyway)."""

    kind = "openai"

    def __init__(self, model: str, base_url: str | None, api_key_env: str = DEFAULT_KEY_ENV, timeout: float = 60.0,
                 max_retries: int = 4, backoff_s: float = 0.5, max_backoff_s: float = 8.0):
        super().__init__()
        if not model:
            raise ConfigError("the openai backend needs a model name (--model NAME)")
        if not base_url:
            raise ConfigError("the openai backend needs a server: --base-url URL (e.g. http://127.0.0.1:8000/v1)")
        self.model, self.host = model, base_url.rstrip("/")
        self.max_retries, self.backoff_s, self.max_backoff_s = max_retries, backoff_s, max_backoff_s
        key = os.environ.get(api_key_env) or "not-needed"  # local servers accept any key
        self.api_key_env = api_key_env
        self._client = openai.OpenAI(base_url=self.host, api_key=key, timeout=timeout, max_retries=0)

    def preflight(self) -> None:
        """Fail at once if the server is unreachable, refuses the key or does not serve the model."""
        try:
            names = {m.id for m in self._client.models.list()}
        except openai.AuthenticationError:
            raise ConfigError(f"{self.host} refused the API key (from ${self.api_key_env})") from None
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            raise ConfigError(f"cannot reach the OpenAI-compatible server at {self.host}: {exc}") from None
        except (openai.APIStatusError, ValueError, TypeError) as exc:
            status = getattr(exc, "status_code", None)
            raise ConfigError(f"{self.host} does not answer as an OpenAI-compatible server (GET /models gave "
                              f"{'HTTP ' + str(status) if status else type(exc).__name__})") from None
        if self.model not in names:
            shown = ", ".join(sorted(names)[:5]) or "none"
            raise ConfigError(f"model {self.model!r} is not served at {self.host} (it serves: {shown})")

    def _create(self, request: ChatRequest) -> Any:
        opts = request.options
        extra: dict[str, Any] = {}
        if request.schema is not None:
            extra["response_format"] = {"type": "json_schema",
                                        "json_schema": {"name": "reply", "schema": request.schema, "strict": False}}
        return self._client.chat.completions.create(
            model=self.model, messages=list(request.messages), temperature=opts.temperature, seed=opts.seed,
            max_tokens=opts.max_tokens, **extra)

    def complete(self, request: ChatRequest) -> Completion:
        start = time.perf_counter()
        retries = 0
        for attempt in range(self.max_retries + 1):
            try:
                reply = self._create(request)
                text = reply.choices[0].message.content or ""
                break
            except openai.NotFoundError:
                raise ConfigError(f"model {self.model!r} is not served at {self.host}") from None
            except openai.AuthenticationError:
                raise ConfigError(f"{self.host} refused the API key (from ${self.api_key_env})") from None
            except openai.APIStatusError as exc:
                if exc.status_code not in RETRYABLE_STATUS:
                    raise BackendError(f"{self.host} answered {exc.status_code}: {exc.message}") from None
                if attempt == self.max_retries:
                    raise HostUnavailable(self.host, f"{self.host} answered {exc.status_code} {attempt + 1} times: "
                                                     f"{exc.message}") from None
            except (openai.APIConnectionError, openai.APITimeoutError, openai.APIResponseValidationError,
                    ValueError, IndexError, AttributeError) as exc:  # no answer, or an answer that is no completion
                if attempt == self.max_retries:
                    raise HostUnavailable(self.host, f"{self.host} failed after {attempt + 1} tries: "
                                                     f"{type(exc).__name__}") from None
            retries += 1
            time.sleep(min(self.max_backoff_s, self.backoff_s * 2 ** attempt))
        self.calls += 1
        text, oversized = cap_reply(text)
        usage = getattr(reply, "usage", None)
        return Completion(
            text=text, data=parse_json_object(text) if request.schema is not None and not oversized else None,
            oversized=oversized, prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            latency_s=time.perf_counter() - start, model=reply.model or self.model, transport_retries=retries)
