"""Several servers for one model: sessions spread over them, a host that fails its preflight named
and left out, a host that dies mid-run has its sessions moved, and nothing finished is lost."""
from __future__ import annotations

import json

import pytest

from agents import AgentSpec
from agents.llm import BackendSpec, ConfigError
from agents.llm.factory import servers_of
from arena.runner import run_tournament
from arena.spec import TournamentSpec, load_spec_file
from tests.helpers import outcomes
from tests.ollama_server import MODEL_NAME, FakeOllama
from tests.openai_server import MODEL_NAME as OPENAI_MODEL
from tests.openai_server import FakeOpenAI

pytestmark = pytest.mark.llm


def _spec(backend: BackendSpec, workers: int, scenarios: int = 2) -> TournamentSpec:
    return TournamentSpec(agents=[AgentSpec("vanilla", {"max_tokens": 160}, backend), AgentSpec("victim")],
                          domains=["credit"], scenarios=scenarios, max_messages=4, workers=workers).validate()


def test_host_lists_parse_from_flags_and_toml(tmp_path):
    spec = BackendSpec("openai", "m", base_url=" http://a:1/v1/ , http://b:2/v1,http://a:1/v1")
    assert servers_of(spec) == ("http://a:1/v1", "http://b:2/v1")
    config = tmp_path / "t.toml"
    config.write_text('backend = "ollama"\nmodel = "m"\nollama_host = ["http://a:1", "http://b:2"]\n')
    assert load_spec_file(config)["ollama_host"] == "http://a:1,http://b:2"
    config.write_text('ollama_host = []\n')
    with pytest.raises(ConfigError, match="ollama_host must list server URLs"):
        load_spec_file(config)


def test_sessions_spread_over_two_servers_and_move_off_one_that_dies(tmp_path):
    with FakeOpenAI() as reference:
        run_tournament(_spec(BackendSpec("openai", OPENAI_MODEL, base_url=reference.host, cache=False), 0),
                       tmp_path / "one")
    with FakeOpenAI() as first, FakeOpenAI() as second:
        first.faults.extend(["", "", "die"])  # answers two chats, then is gone for good
        hosts = f"{first.host},{second.host}"
        notes: list[str] = []
        table = run_tournament(_spec(BackendSpec("openai", OPENAI_MODEL, base_url=hosts, cache=False), 2),
                               tmp_path / "two", on_note=notes.append)
        assert first.dead and first.chats == 3 and second.chats > 0
    assert len(table) == 4 and table["error"].isna().all()
    assert any(first.host in n and "move to" in n and second.host in n for n in notes), notes
    assert outcomes(tmp_path / "two") == outcomes(tmp_path / "one")  # same matches, none lost or doubled


def test_a_host_that_fails_its_preflight_is_named_and_left_out(tmp_path):
    notes: list[str] = []
    with FakeOllama() as server:
        backend = BackendSpec("ollama", MODEL_NAME, ollama_host=f"http://127.0.0.1:9,{server.host}", cache=False)
        table = run_tournament(_spec(backend, 0, scenarios=1), tmp_path / "run", on_note=notes.append)
        assert server.chats > 0
    assert table["error"].isna().all() and len(table) == 2
    assert notes and "leaving out http://127.0.0.1:9" in notes[0] and "cannot reach" in notes[0]


def test_when_every_host_is_gone_the_run_stops_with_one_line_and_keeps_its_matches(tmp_path):
    with FakeOllama() as server:
        server.faults.extend([""] * 8 + ["die"])  # enough for a finished match, not for all
        backend = BackendSpec("ollama", MODEL_NAME, ollama_host=server.host, cache=False)
        with pytest.raises(ConfigError, match="finished matches are kept: run the same command again"):
            run_tournament(_spec(backend, 0), tmp_path / "run")
    log = (tmp_path / "run" / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert log and all(json.loads(line)["record"]["error"] in (None, "") for line in log)
