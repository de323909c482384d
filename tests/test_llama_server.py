"""The openai backend against a real OpenAI-compatible server: llama.cpp's llama-server (built from
source by tools/build_llama_server.sh) serving SmolLM2 with 4 slots. Structured replies go through its
JSON-schema support and are validated as from any server; its prompt-cache reuse is recorded."""
from __future__ import annotations

import pandas as pd
import pytest

from agents import AgentSpec
from agents.llm import BackendSpec
from agents.llm.openai_backend import OpenAIBackend
from arena.runner import run_tournament
from arena.spec import TournamentSpec
from tests.llama_server import MODEL, LlamaServer
from tests.ollama_server import action_request

pytestmark = [pytest.mark.llm, pytest.mark.slow]


@pytest.fixture(scope="module")
def server():
    with LlamaServer(parallel=4) as running:
        yield running


def test_schema_replies_and_cache_counts_come_back_from_the_real_server(server):
    backend = OpenAIBackend(MODEL, server.openai_url, timeout=120.0)
    backend.preflight()
    first = backend.complete(action_request(seed=4))
    again = backend.complete(action_request(seed=4))
    assert first.data is not None and set(first.data) >= {"move", "emotion", "message"}
    assert first.prompt_tokens > 20 and first.completion_tokens > 0 and first.model == MODEL
    assert again.cached_tokens is not None and again.cached_tokens >= again.prompt_tokens - 2  # the same prompt


def test_a_tournament_against_llama_server_with_four_slots(server, tmp_path):
    backend = BackendSpec("openai", MODEL, base_url=server.openai_url, cache=False, timeout=120.0)
    spec = TournamentSpec(agents=[AgentSpec("vanilla", backend=backend), AgentSpec("victim", backend=backend)],
                          domains=["credit"], scenarios=2, max_messages=4, workers=0, llm_parallel=4,
                          max_tokens=96).validate()
    table = run_tournament(spec, tmp_path / "run")
    assert len(table) == 4 and table["error"].isna().all()
    assert (table["focal_requests"] >= 2).all() and (table["counterpart_requests"] >= 1).all()
    # every reply was validated: a bad one was asked again or replaced by the fallback, and counted
    moves = table["rounds"].sum()
    assert (table["focal_fallbacks"] + table["counterpart_fallbacks"]).sum() <= moves
    cached = pd.to_numeric(table["focal_cached_tokens"]).sum() + pd.to_numeric(table["counterpart_cached_tokens"]).sum()
    prompt = table["focal_prompt_tokens"].sum() + table["counterpart_prompt_tokens"].sum()
    assert 0 < cached < prompt  # each agent's later prompts reuse its earlier turns from the server's cache
