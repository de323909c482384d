"""The runs a server shows: found in the directories it was given, read and rated once per change."""
from __future__ import annotations

import functools
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import leaderboards
from arena.analysis import comparison_pairs
from arena.judging import VOTES, candidate_pairs, load_votes
from arena.storage import MATCHES, RESULTS, load_matches

PLOTS = "report"


@dataclass(frozen=True)
class RunRef:
    """A run directory and the key that names it in addresses (a digest of its path, never the path)."""

    key: str
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def stamp(self) -> tuple[int, ...]:
        """Changes whenever the run's results or votes change (so cached tables are redone)."""
        return tuple((self.path / f).stat().st_mtime_ns if (self.path / f).exists() else 0
                     for f in (MATCHES, RESULTS, VOTES))

    @property
    def has_votes(self) -> bool:
        return (self.path / VOTES).is_file()

    def plots(self) -> list[str]:
        folder = self.path / PLOTS
        return sorted(p.name for p in folder.glob("*.png")) if folder.is_dir() else []


def is_run(path: Path) -> bool:
    return (path / MATCHES).is_file() or (path / RESULTS).is_file()


def _ref(path: Path) -> RunRef:
    resolved = path.resolve()
    return RunRef(hashlib.blake2b(str(resolved).encode(), digest_size=5).hexdigest(), resolved)


class Catalog:
    """Runs in the given directories (each a run, or a folder of runs one level down)."""

    def __init__(self, folders: list[Path], bootstrap: int = 1000):
        self.folders, self.bootstrap = [Path(f) for f in folders], bootstrap
        # One computation at a time, and the run's state read once the lock is held: requests that
        # queued behind a recomputation find it done for the newest state instead of redoing it.
        self._lock = threading.Lock()

    def runs(self) -> list[RunRef]:
        found: dict[str, RunRef] = {}
        for folder in self.folders:
            candidates = [folder] if is_run(folder) else sorted(p for p in folder.glob("*") if p.is_dir() and is_run(p))
            for path in candidates:
                ref = _ref(path)
                found.setdefault(ref.key, ref)
        return list(found.values())

    def key_of(self, path: Path) -> str | None:
        """The address key of the run at ``path`` (a folder this server was given), None until it holds a run."""
        ref = _ref(path)
        return ref.key if is_run(ref.path) else None

    def get(self, key: str) -> RunRef:
        for ref in self.runs():
            if ref.key == key:
                return ref
        raise KeyError(key)

    def matches(self, ref: RunRef) -> pd.DataFrame:
        with self._lock:
            return _matches(str(ref.path), ref.stamp)

    def leaderboard(self, ref: RunRef, by: str | None) -> pd.DataFrame:
        with self._lock:
            return _leaderboard(str(ref.path), ref.stamp, by, self.bootstrap)

    def metrics(self, ref: RunRef) -> pd.DataFrame:
        with self._lock:
            return _metrics(str(ref.path), ref.stamp)

    def comparison(self, ref: RunRef, baseline: str) -> pd.DataFrame:
        with self._lock:
            return _comparison(str(ref.path), ref.stamp, baseline, self.bootstrap)

    def pairs(self, ref: RunRef) -> pd.DataFrame:
        """The run's judgeable pairs (see arena.judging.candidate_pairs)."""
        with self._lock:
            return _pairs(str(ref.path), ref.stamp)

    def votes_board(self, ref: RunRef) -> pd.DataFrame:
        with self._lock:
            return _votes_board(str(ref.path), ref.stamp, self.bootstrap)


@functools.lru_cache(maxsize=32)
def _matches(path: str, stamp: tuple[int, ...]) -> pd.DataFrame:
    return load_matches(path)


@functools.lru_cache(maxsize=32)
def _pairs(path: str, stamp: tuple[int, ...]) -> pd.DataFrame:
    return candidate_pairs(_matches(path, stamp))


@functools.lru_cache(maxsize=32)
def _metrics(path: str, stamp: tuple[int, ...]) -> pd.DataFrame:
    return leaderboards.metrics_table(_matches(path, stamp)).round(3)


@functools.lru_cache(maxsize=32)
def _leaderboard(path: str, stamp: tuple[int, ...], by: str | None, bootstrap: int) -> pd.DataFrame:
    return leaderboards.leaderboard(_matches(path, stamp), by=by, bootstrap=bootstrap)


@functools.lru_cache(maxsize=32)
def _comparison(path: str, stamp: tuple[int, ...], baseline: str, bootstrap: int) -> pd.DataFrame:
    matches = _matches(path, stamp)
    return leaderboards.compare(matches, comparison_pairs(matches, [], baseline), ("utility", "agreement"),
                                bootstrap=bootstrap)


@functools.lru_cache(maxsize=32)
def _votes_board(path: str, stamp: tuple[int, ...], bootstrap: int) -> pd.DataFrame:
    return leaderboards.vote_leaderboard(load_votes(path), bootstrap=bootstrap)
