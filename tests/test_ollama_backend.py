"""The ollama backend through the official client against a loopback server that speaks Ollama's API."""
from __future__ import annotations

import socket
import time

import pytest

from agents.llm import BackendError, ConfigError, GenerationOptions, HostUnavailable
from agents.llm.ollama_backend import OllamaBackend, resolve_host
from envs import DOMAINS, EKMAN_7
from tests.ollama_server import MESSAGES, MODEL_NAME, SCHEMA, FakeOllama, action_request

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def server():
    with FakeOllama() as srv:
        yield srv


@pytest.fixture
def backend(server):
    server.faults.clear()
    return OllamaBackend(MODEL_NAME, host=server.host, timeout=5.0, backoff_s=0.05, max_retries=3)


def test_real_text_flows_through_the_official_client(backend, server):
    backend.preflight()
    completion = backend.complete(action_request())
    assert completion.data is not None and completion.data["move"] in ("offer", "accept", "walk_away")
    assert completion.completion_tokens > 0 and completion.model == MODEL_NAME
    assert "/api/tags" in server.requests and "/api/chat" in server.requests


@pytest.mark.parametrize("fault", ["500", "503", "badjson", "drop"])
def test_transient_faults_are_retried(backend, server, fault):
    server.faults.extend([fault, fault])
    completion = backend.complete(action_request())
    assert completion.transport_retries == 2 and completion.data is not None


def test_slow_reply_past_the_timeout_is_retried(server):
    backend = OllamaBackend(MODEL_NAME, host=server.host, timeout=4.0, backoff_s=0.05, max_retries=2)
    server.faults.extend(["slow:6"])  # the retry is served while the slow request still sleeps
    start = time.perf_counter()
    completion = backend.complete(action_request())
    assert completion.transport_retries == 1 and time.perf_counter() - start < 20


def test_retries_are_bounded(backend, server):
    server.faults.extend(["500"] * 10)  # the host answers its model list: this request alone fails
    with pytest.raises(BackendError, match="failed this request .* times .HTTP 500. while answering others"):
        backend.complete(action_request())
    server.faults.clear()


def test_unknown_model_fails_at_once_with_a_pull_hint(server):
    backend = OllamaBackend("llama9:70b", host=server.host, timeout=5.0)
    with pytest.raises(ConfigError, match="ollama pull llama9:70b"):
        backend.preflight()
    with pytest.raises(ConfigError, match="ollama pull llama9:70b"):
        backend.complete(action_request())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_fails_at_once_naming_the_host():
    host = f"http://127.0.0.1:{_free_port()}"
    backend = OllamaBackend(MODEL_NAME, host=host, timeout=2.0, backoff_s=0.01, max_retries=2)
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=host.replace(".", r"\.")):
        backend.preflight()
    assert time.perf_counter() - start < 5
    with pytest.raises(HostUnavailable, match="failed 3 times .* no longer answers its model list"):
        backend.complete(action_request())


def test_host_resolution(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9999")
    assert resolve_host(None) == "http://127.0.0.1:9999"
    assert resolve_host("http://127.0.0.1:1") == "http://127.0.0.1:1"
    monkeypatch.delenv("OLLAMA_HOST")
    assert resolve_host(None) == "http://127.0.0.1:11434"


def test_an_oversized_reply_is_cut_before_parsing_counted_and_cached_small(tmp_path, server):
    from agents.llm import CallStats
    from agents.llm.base import MAX_REPLY_CHARS
    from agents.llm.cache import CachedBackend, ResponseCache

    server.faults.clear()
    server.faults.extend(["huge"])
    cache = ResponseCache(tmp_path / "cache.sqlite")
    backend = CachedBackend(OllamaBackend(MODEL_NAME, host=server.host, timeout=20.0), cache)
    stats = CallStats()
    start = time.perf_counter()
    first = backend.complete(action_request(seed=11))
    assert time.perf_counter() - start < 10 and first.oversized and len(first.text) == MAX_REPLY_CHARS
    assert first.data is None
    stats.record(first)
    assert stats.oversized == 1
    assert (tmp_path / "cache.sqlite").stat().st_size < 200_000


def test_a_superscript_value_is_malformed_not_a_crash(server):
    from agents.llm import CallStats, parse_action, request_structured

    server.faults.clear()
    server.faults.extend(["superscript"])
    backend = OllamaBackend(MODEL_NAME, host=server.host, timeout=20.0)
    stats = CallStats()

    def validate(completion):
        return parse_action(completion.data, DOMAINS["credit"], EKMAN_7, 60)

    action = request_structured(backend, list(MESSAGES), SCHEMA, GenerationOptions(seed=5, max_tokens=96), validate,
                                stats, 2)
    assert stats.malformed >= 1 and stats.requests >= 2  # the "²" reply was refused and asked again
    assert action is None or action.move in ("offer", "accept", "walk_away")
