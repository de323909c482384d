"""Shared fixtures: a per-test response cache directory and the real embedded model."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own response cache, so no test sees another's cached replies."""
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    from agents.llm import factory

    factory._INSTANCES.clear()
    yield
    factory._INSTANCES.clear()


@pytest.fixture(scope="session")
def llama():
    """The real SmolLM2 model through llama.cpp (loaded once per test session)."""
    from agents.llm.llama_cpp import LlamaCppBackend

    backend = LlamaCppBackend()
    backend.preflight()
    return backend
