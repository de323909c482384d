"""A tournament on model backends: llama-cpp in-process, and ollama through a stream of server faults."""
from __future__ import annotations

import pytest

from agents import AgentSpec
from agents.llm import BackendSpec
from arena.cli import main
from arena.runner import run_tournament
from arena.spec import TournamentSpec
from tests.ollama_server import MODEL_NAME, FakeOllama

pytestmark = pytest.mark.llm


def test_ollama_tournament_finishes_through_faults_and_counts_them(tmp_path):
    with FakeOllama() as server:
        server.faults.extend(["503", "badcontent", "500", "badjson", "badcontent", "drop", "503"])
        backend = BackendSpec("ollama", MODEL_NAME, ollama_host=server.host, timeout=20.0)
        spec = TournamentSpec(agents=[AgentSpec("vanilla", {"max_tokens": 200}, backend), AgentSpec("victim")],
                              domains=["credit"], scenarios=2, max_messages=4, workers=0).validate()
        table = run_tournament(spec, tmp_path / "run")
        assert len(table) == 2 * 2 and table["error"].isna().all()
        focal = table[table["focal_agent"] == "vanilla"]
        assert focal["focal_transport_retries"].sum() >= 5
        assert focal["focal_malformed"].sum() >= 2 and focal["focal_requests"].sum() > 0
        assert not server.faults  # every injected fault was met


def test_llama_cpp_tournament_and_a_second_run_makes_no_model_calls(tmp_path):
    spec = TournamentSpec(agents=[AgentSpec("eq-negotiator", {"max_tokens": 200}, BackendSpec("llama-cpp")),
                                  AgentSpec("threatening")], domains=["hospital"], scenarios=1, max_messages=4,
                          workers=0).validate()
    first = run_tournament(spec, tmp_path / "a")
    second = run_tournament(spec, tmp_path / "b")
    assert first["focal_requests"].sum() > 0
    assert second["focal_cache_hits"].sum() == second["focal_requests"].sum()
    assert list(first["value"]) == list(second["value"])


def test_unreachable_ollama_host_and_missing_model_exit_2(tmp_path, capsys):
    base = ["tournament", "--agents", "vanilla,victim", "--domains", "credit", "--scenarios", "1", "--workers", "0",
            "--backend", "ollama", "--out", str(tmp_path / "x")]
    assert main([*base, "--model", MODEL_NAME, "--ollama-host", "http://127.0.0.1:9"]) == 2
    assert "cannot reach the Ollama server at http://127.0.0.1:9" in capsys.readouterr().err
    with FakeOllama() as server:
        assert main([*base, "--model", "qwen9:3b", "--ollama-host", server.host]) == 2
    assert "run: ollama pull qwen9:3b" in capsys.readouterr().err


def test_emodistill_expresses_through_an_ollama_expression_model():
    from envs import load_scenarios
    from tests.helpers import play_pair

    with FakeOllama() as server:
        focal = AgentSpec("emodistill", {"expression_model": MODEL_NAME, "ollama_host": server.host, "max_tokens": 200})
        record, transcript, agents = play_pair(focal, AgentSpec("victim"), load_scenarios("credit", "test")[0],
                                               max_messages=4)
        assert agents["focal"].backend.kind == "ollama" and record["focal_requests"] >= 2
        assert "/api/chat" in server.requests
        chosen = [m["emotion"] for m in transcript if m["role"] == "focal"]
        assert all(e in agents["focal"].selector.labels for e in chosen)
