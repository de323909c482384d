"""The openai backend through the official client against a loopback server that speaks the
OpenAI chat-completions API, faults included, and in a tournament."""
from __future__ import annotations

import time

import pandas as pd
import pytest

from agents.llm import BackendError, CallStats, ConfigError, GenerationOptions
from agents.llm.openai_backend import OpenAIBackend
from arena.cli import main
from envs import DOMAINS, EKMAN_7
from tests.ollama_server import MESSAGES, SCHEMA, action_request
from tests.openai_server import MODEL_NAME, FakeOpenAI

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def server():
    with FakeOpenAI() as srv:
        yield srv


@pytest.fixture
def backend(server, monkeypatch):
    server.faults.clear()
    monkeypatch.setenv("ARENA_TEST_KEY", "sk-loopback-secret")
    return OpenAIBackend(MODEL_NAME, server.host, api_key_env="ARENA_TEST_KEY", timeout=5.0, backoff_s=0.05,
                         max_retries=3)


def test_structured_replies_through_the_official_client(backend, server):
    backend.preflight()
    completion = backend.complete(action_request())
    assert completion.data is not None and completion.data["move"] in ("offer", "accept", "walk_away")
    assert completion.completion_tokens > 0 and completion.model == MODEL_NAME
    assert "/v1/models" in server.requests and "/v1/chat/completions" in server.requests
    assert server.keys[-1] == "Bearer sk-loopback-secret"  # the key from the named variable


@pytest.mark.parametrize("fault", ["500", "503", "429", "badjson", "drop"])
def test_transient_faults_are_retried_and_counted(backend, server, fault):
    server.faults.extend([fault, fault])
    completion = backend.complete(action_request())
    assert completion.transport_retries == 2 and completion.data is not None


def test_retries_are_bounded(backend, server):
    server.faults.extend(["500"] * 10)  # the host answers its model list: this request alone fails
    with pytest.raises(BackendError, match="failed this request .* times .HTTP 500. while answering others"):
        backend.complete(action_request())
    server.faults.clear()


def test_slow_replies_time_out_and_are_retried(server):
    quick = OpenAIBackend(MODEL_NAME, server.host, timeout=4.0, backoff_s=0.05, max_retries=2)
    server.faults.clear()
    server.faults.extend(["slow:6"])  # the retry is served while the slow request still sleeps
    start = time.perf_counter()
    assert quick.complete(action_request()).transport_retries == 1 and time.perf_counter() - start < 20


def test_bad_replies_are_malformed_not_crashes(backend, server):
    from agents.llm import parse_action, request_structured

    for fault in ("badcontent", "superscript", "huge"):
        server.faults.clear()
        server.faults.extend([fault])
        stats = CallStats()
        request_structured(backend, list(MESSAGES), SCHEMA, GenerationOptions(seed=3, max_tokens=96),
                           lambda c: parse_action(c.data, DOMAINS["credit"], EKMAN_7, 60), stats, 2)
        assert stats.malformed >= 1 and stats.requests >= 2, fault
        assert stats.oversized == (1 if fault == "huge" else 0)


def test_preflight_names_an_unknown_model_and_an_unreachable_server(server):
    with pytest.raises(ConfigError, match=r"model .gpt-9. is not served at .* \(it serves: smollm2-135m-instruct\)"):
        OpenAIBackend("gpt-9", server.host).preflight()
    with pytest.raises(ConfigError, match="cannot reach the OpenAI-compatible server at http://127.0.0.1:9/v1"):
        OpenAIBackend(MODEL_NAME, "http://127.0.0.1:9/v1", timeout=1.0).preflight()
    server.faults.clear()
    server.faults.extend(["401"])
    with pytest.raises(ConfigError, match=r"refused the API key \(from \$OPENAI_API_KEY\)"):
        OpenAIBackend(MODEL_NAME, server.host, max_retries=0).complete(action_request())


def test_a_tournament_on_the_openai_backend_never_saves_the_key(server, tmp_path, monkeypatch, capsys):
    server.faults.clear()
    monkeypatch.setenv("ARENA_TEST_KEY", "sk-loopback-secret")
    args = ["tournament", "--agents", "vanilla,victim", "--domains", "credit", "--scenarios", "1", "--max-messages",
            "4", "--backend", "openai", "--base-url", server.host, "--model", MODEL_NAME, "--api-key-env",
            "ARENA_TEST_KEY", "--workers", "0", "--quiet", "--out", str(tmp_path / "run")]
    assert main(args) == 0
    table = pd.read_parquet(tmp_path / "run" / "matches.parquet")
    assert len(table) == 2 and table["error"].isna().all() and (table["focal_backend"] == "openai").all()
    assert (table["focal_requests"] > 0).all()
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file():
            assert b"sk-loopback-secret" not in path.read_bytes(), path
    assert 'api_key_env = "ARENA_TEST_KEY"' in (tmp_path / "run" / "tournament.toml").read_text()
    bad = args[:-1] + [str(tmp_path / "other")]
    bad[bad.index(MODEL_NAME)] = "gpt-9"
    capsys.readouterr()
    assert main(bad) == 2 and "is not served at" in capsys.readouterr().err
