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


@pytest.fixture(scope="session")
def served_run_template(tmp_path_factory):
    """A small scripted tournament run (made once) for the web app's tests."""
    from tests.web_helpers import small_run

    return small_run(tmp_path_factory.mktemp("served") / "run")


@pytest.fixture
def run(served_run_template, tmp_path):
    """A fresh copy of that run for each test (people's matches and votes are written into it)."""
    import shutil

    return shutil.copytree(served_run_template, tmp_path / "run")
