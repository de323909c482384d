"""An on-disk response cache in SQLite (WAL mode), safe with several worker processes writing."""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import warnings
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
        self.broken = False
        try:
            self._open()
        except sqlite3.DatabaseError as exc:  # not a database, or damaged: set it aside, start a new one
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            self._close()
            for suffix in ("", "-wal", "-shm"):
                if Path(f"{self.path}{suffix}").exists():
                    os.replace(f"{self.path}{suffix}", f"{aside}{suffix}")
            warnings.warn(f"response cache {self.path} is unreadable ({exc}); moved it to {aside} and started an "
                          "empty one (no finished match is affected; replies will be asked again)", stacklevel=2)
            self._open()

    def _open(self) -> None:
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(SCHEMA)
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("integrity check failed")

    def _close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _failed(self, exc: Exception) -> None:
        """A cache that breaks mid-run is left alone for the rest of the run (said once)."""
        if not self.broken:
            self.broken = True
            warnings.warn(f"response cache {self.path} failed ({exc}); going on without it (--no-cache does "
                          "the same; delete the file to start a new one)", stacklevel=3)

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0)
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL: no fsync per reply; a crash loses at most the last few
            self._local.conn = conn
        return conn

    def get(self, key: str) -> Completion | None:
        if self.broken:
            return None
        try:
            row = self._connect().execute("SELECT completion FROM responses WHERE key = ?", (key,)).fetchone()
            return Completion(**json.loads(row[0])) if row else None
        except (sqlite3.DatabaseError, ValueError, TypeError) as exc:
            self._failed(exc)
            return None

    def put(self, key: str, completion: Completion) -> None:
        if self.broken:
            return
        try:
            conn = self._connect()
            with conn:
                conn.execute("INSERT OR REPLACE INTO responses (key, completion) VALUES (?, ?)",
                             (key, json.dumps(asdict(completion))))
        except sqlite3.DatabaseError as exc:
            self._failed(exc)

    def __getstate__(self) -> dict:
        return {"path": self.path}

    def __setstate__(self, state: dict) -> None:
        self.path = state["path"]
        self._local = threading.local()
        self.broken = False


class CachedBackend(Backend):
    """A backend behind the response cache: a hit makes no model call. Only replies that passed
    validation are stored (structured replies are kept when the caller's validation accepts them)."""

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
        found = self.cache.get(self._key(request))
        if found is not None:
            self.hits += 1
            return replace(found, cached=True)
        completion = self.inner.complete(request)
        if request.schema is None and completion.text and not completion.oversized and not completion.problem:
            self.keep(request, completion)  # free text: nothing of ours validates it beyond being text
        return completion

    def keep(self, request: ChatRequest, completion: Completion) -> None:
        """Store a validated reply; what the transport did is that call's, never a replay's."""
        if not completion.cached:
            self.cache.put(self._key(request), replace(completion, transport_retries=0, rate_limited=0,
                                                       cached_tokens=None, latency_s=0.0))

    def _key(self, request: ChatRequest) -> str:
        return request.cache_key(self.inner.kind, self.inner.identity)
