"""Served backends against what real servers do: any reply shape, rate limits with and without
Retry-After, bodies that drip, a request that alone keeps failing, a key refused mid-run, and a
response cache that keeps only what validation accepted."""
from __future__ import annotations

import email.utils
import json
import time

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents import AgentSpec
from agents.llm import BackendError, BackendSpec, CallStats, ConfigError, GenerationOptions, parse_action
from agents.llm.cache import CachedBackend, ResponseCache
from agents.llm.ollama_backend import OllamaBackend
from agents.llm.openai_backend import OpenAIBackend
from agents.llm.structured import request_structured
from arena.cli import main
from arena.runner import run_tournament
from arena.spec import TournamentSpec
from envs import DOMAINS, EKMAN_7
from tests.latency_server import MODEL, LatencyServer
from tests.ollama_server import MESSAGES, SCHEMA, action_request


@pytest.fixture(scope="module")
def server():
    with LatencyServer(latency=0.0) as running:
        yield running


@pytest.fixture
def fresh(server):
    server.faults.__init__()
    server.reset()
    return server


def _openai(server, **kw) -> OpenAIBackend:
    return OpenAIBackend(MODEL, server.openai_url, **{"timeout": 5.0, "backoff_s": 0.0, "max_retries": 0} | kw)


def _ollama(server, **kw) -> OllamaBackend:
    return OllamaBackend(MODEL, server.url, **{"timeout": 5.0, "backoff_s": 0.0, "max_retries": 0} | kw)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
CONTENT = st.one_of(st.text(max_size=40), st.integers(), st.none(), st.lists(JSON, max_size=3),
                    st.just([{"type": "text", "text": '{"move": "offer"}'}]), JSON)
SHAPED = st.one_of(
    st.builds(lambda c: {"choices": [{"message": {"role": "assistant", "content": c}}]}, CONTENT),
    st.builds(lambda c: {"message": {"role": "assistant", "content": c}, "done": True}, CONTENT),
    st.builds(lambda e: {"error": e}, JSON), st.builds(lambda c: {"choices": c}, JSON), JSON)
BODY = st.one_of(SHAPED.map(json.dumps), st.text(max_size=60), st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
                 st.sampled_from(["[]", "null", "{", "[" * 5000 + "]" * 5000, '{"choices": [{"message": {}}]}',
                                  '{"a":' * 3000, json.dumps({"usage": {"prompt_tokens": -5}})]))
RESPONSE = st.tuples(st.sampled_from([200] * 6 + [201, 204, 400, 404, 408, 409, 413, 418, 422, 429, 500, 502, 503, 504]),
                     st.sampled_from(["application/json", "text/html", "text/plain", "application/octet-stream"]),
                     BODY)


@pytest.mark.slow
@pytest.mark.parametrize("make", [_openai, _ollama], ids=["openai", "ollama"])
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(responses=st.lists(RESPONSE, min_size=100, max_size=100))
def test_any_http_response_is_a_reply_or_a_counted_failure_never_an_exception(make, server, responses):
    """5,000 responses through each backend's complete (10,000 in all): a Completion whose text is
    a string (its data a dict or None), or a BackendError; nothing else escapes."""
    server.faults.__init__()
    server.faults.canned.extend(responses)
    backend = make(server, max_retries=0)
    for _ in responses:
        try:
            completion = backend.complete(action_request())
        except BackendError:
            continue
        except ConfigError as exc:  # only a refused key or a missing model stops a run
            assert "refused" in str(exc) or "not" in str(exc), exc
            continue
        assert isinstance(completion.text, str) and (completion.data is None or isinstance(completion.data, dict))
        assert completion.prompt_tokens >= 0 and completion.completion_tokens >= 0
    assert not server.faults.canned


@pytest.mark.parametrize("make", [_openai, _ollama], ids=["openai", "ollama"])
@pytest.mark.parametrize("header", ["1", "date"])
def test_retry_after_is_honoured_in_seconds_or_as_a_date(make, header, fresh):
    fresh.faults.retry_after = "1" if header == "1" else email.utils.formatdate(time.time() + 2, usegmt=True)
    fresh.faults.refuse_next = 1  # the first request meets the limit
    completion = make(fresh, max_retries=2).complete(action_request())
    waited = fresh.arrivals[1] - fresh.arrivals[0]
    assert completion.data is not None and completion.rate_limited >= 1 and completion.transport_retries >= 1
    assert waited >= (0.95 if header == "1" else 0.9), waited  # never before the server said


@pytest.mark.parametrize("make", [_openai, _ollama], ids=["openai", "ollama"])
def test_a_rate_limit_window_is_waited_out_and_counted(make, fresh):
    fresh.faults.full_until = time.monotonic() + 3.0  # 429 for everything, no Retry-After
    start = time.monotonic()
    completion = make(fresh, max_retries=1, backoff_s=0.25, max_backoff_s=1.0).complete(action_request())
    assert completion.data is not None and completion.rate_limited >= 3 and time.monotonic() - start >= 3.0


@pytest.mark.parametrize("make", [_openai, _ollama], ids=["openai", "ollama"])
def test_a_dripping_body_cannot_hold_a_call_past_its_deadline(make, fresh):
    fresh.faults.drip_s = 0.25  # one byte every quarter second: a read timeout would never fire
    start = time.monotonic()
    with pytest.raises(BackendError, match="no complete answer within 2.0s"):
        make(fresh, timeout=2.0, max_retries=0).complete(action_request())
    assert time.monotonic() - start < 3.5


def test_the_match_budget_holds_inside_a_call(fresh, tmp_path):
    fresh.faults.drip_s = 0.25
    backend = BackendSpec("openai", MODEL, base_url=fresh.openai_url, cache=False, timeout=60.0)
    spec = TournamentSpec(agents=[AgentSpec("vanilla", backend=backend), AgentSpec("victim")], domains=["credit"],
                          scenarios=1, workers=0, match_timeout=3.0, match_retries=0).validate()
    start = time.monotonic()
    table = run_tournament(spec, tmp_path / "run")
    assert time.monotonic() - start < 20 and len(table) == 2
    assert table["error"].str.contains("time ran out").all(), table["error"].tolist()


def test_a_poison_request_errors_its_matches_and_the_run_goes_on(fresh, tmp_path):
    backend = BackendSpec("openai", MODEL, base_url=fresh.openai_url, cache=False, timeout=5.0)
    spec = TournamentSpec(agents=[AgentSpec("vanilla", backend=backend), AgentSpec("victim", backend=backend)],
                          domains=["credit"], scenarios=3, workers=0, llm_parallel=4, max_messages=6).validate()
    from envs import load_scenarios

    poisoned = load_scenarios("credit", "test")[1]
    fresh.faults.poison = f"Your target is {poisoned.target['focal']} days"  # the focal agent's prompts there
    table = run_tournament(spec, tmp_path / "run")
    bad = table[table["error"].notna()]
    assert set(bad["scenario"]) == {poisoned.id} and len(bad) == 2  # both of its matches, nothing else
    assert bad["error"].str.contains("while answering others").all()
    assert (bad["focal_transport_retries"] == 2 * 4).all()  # both attempts' re-sends, though each call failed
    assert table[table["scenario"] != poisoned.id]["error"].isna().all()


def test_a_key_refused_mid_run_stops_it_once_with_one_line(fresh, tmp_path, capsys):
    fresh.faults.unauthorized_after = 6
    args = ["tournament", "--backend", "ollama", "--model", MODEL, "--ollama-host", fresh.url, "--agents",
            "vanilla,victim", "--domains", "credit", "--scenarios", "4", "--workers", "0", "--no-cache", "--quiet",
            "--out", str(tmp_path / "run")]
    assert main(args) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "refused the request (401)" in err[0], err


def _validate(completion):
    return parse_action(completion.data, DOMAINS["credit"], EKMAN_7, 60)


def test_the_cache_keeps_only_validated_replies_and_never_replays_transport_counts(fresh, tmp_path):
    cache = ResponseCache(tmp_path / "cache.sqlite")
    backend = CachedBackend(_openai(fresh, max_retries=2), cache)
    fresh.faults.canned.extend([(500, "application/json", "null"),  # a transport retry, then an unusable reply
                                (200, "application/json", json.dumps({"choices": [{"message": {"content": "no"}}]}))])
    stats = CallStats()
    first = request_structured(backend, list(MESSAGES), SCHEMA, GenerationOptions(seed=2), _validate, stats, 2)
    assert first is not None and stats.malformed == 1 and stats.transport_retries == 1
    fresh.reset()
    again = CallStats()
    replayed = request_structured(backend, list(MESSAGES), SCHEMA, GenerationOptions(seed=2), _validate, again, 2)
    assert fresh.chats == 1  # the unusable first reply was not kept: asked again; the retry's reply was kept
    assert again.cache_hits == 0 and again.transport_retries == 0 and replayed is not None
    third = CallStats()
    request_structured(backend, list(MESSAGES), SCHEMA, GenerationOptions(seed=2), _validate, third, 2)
    assert third.cache_hits == 1 and third.transport_retries == 0 and fresh.chats == 1


def test_a_healthy_rerun_after_a_faulty_run_replays_no_bad_reply(fresh, tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    backend = BackendSpec("openai", MODEL, base_url=fresh.openai_url, timeout=5.0)
    spec = TournamentSpec(agents=[AgentSpec("vanilla", backend=backend), AgentSpec("victim", backend=backend)],
                          domains=["credit"], scenarios=2, workers=0, max_messages=6).validate()
    junk = json.dumps({"choices": [{"message": {"content": "I cannot answer in JSON."}}]})
    fresh.faults.canned.extend([(200, "application/json", junk)] * 6 + [(503, "application/json", "{}")] * 3)
    faulty = run_tournament(spec, tmp_path / "faulty")
    assert (faulty["focal_malformed"] + faulty["counterpart_malformed"]).sum() >= 6
    from agents.llm import factory

    factory._INSTANCES.clear()
    healthy = run_tournament(spec, tmp_path / "healthy")
    counts = {k: int((healthy[f"focal_{k}"] + healthy[f"counterpart_{k}"]).sum())
              for k in ("malformed", "fallbacks", "transport_retries", "rate_limited", "cache_hits")}
    assert counts["malformed"] == counts["fallbacks"] == 0 and counts["transport_retries"] == 0, counts
    assert counts["rate_limited"] == 0 and counts["cache_hits"] > 0, counts
    assert fresh.chats > 9  # the replies the faulty run could not use were asked again
    assert pd.api.types.is_integer_dtype(healthy["lost_host_retries"])
