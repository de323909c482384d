"""An on-disk response cache in SQLite (WAL mode), safe with several worker processes writing."""
from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import asdict, replace
from pathlib import Path

from agents.llm.base import Backend, ChatRequest, Completion

SCHEMA = "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, completion TEXT NOT NULL)"


def default_cache_path() -> Path:
    """``$ARENA_CACHE_DIR/responses.sqlite``, default under ``~/.cache/eq-arena``."""
    root = os.environ.get("ARENA_CACHE_DIR") or Path.home() / ".cache" / "eq-arena"
    return Path(root) / "responses.sqlite"


class ResponseCache:
    """Completions keyed by backend, model, options (seed included), messages and schema."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0)
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    def get(self, key: str) -> Completion | None:
        row = self._connect().execute("SELECT completion FROM responses WHERE key = ?", (key,)).fetchone()
        return Completion(**json.loads(row[0])) if row else None

    def put(self, key: str, completion: Completion) -> None:
        conn = self._connect()
        with conn:
            conn.execute("INSERT OR REPLACE INTO responses (key, completion) VALUES (?, ?)",
                         (key, json.dumps(asdict(completion))))

    def __getstate__(self) -> dict:
        return {"path": self.path}

    def __setstate__(self, state: dict) -> None:
        self.path = state["path"]
        self._local = threading.local()


class CachedBackend(Backend):
    """A backend behind the response cache: a hit makes no model call."""

    def __init__(self, inner: Backend, cache: ResponseCache):  # no Backend.__init__: ``calls`` is the inner count
        self.inner, self.cache = inner, cache
        self.kind, self.model = inner.kind, inner.model
        self.hits = 0

    @property
    def calls(self) -> int:  # type: ignore[override]
        """Model calls the inner backend actually made."""
        return self.inner.calls

    def preflight(self) -> None:
        self.inner.preflight()

    def complete(self, request: ChatRequest) -> Completion:
        key = request.cache_key(self.inner.kind, self.inner.model)
        found = self.cache.get(key)
        if found is not None:
            self.hits += 1
            return replace(found, cached=True)
        completion = self.inner.complete(request)
        self.cache.put(key, completion)
        return completion
