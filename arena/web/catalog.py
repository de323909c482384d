"""The runs a server shows: found in the directories it was given, each table computed once per change
of what it rests on, each under its own lock (a vote never recomputes the match tables, a rating being
computed never holds up another run's page)."""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import pandas as pd

import leaderboards
from arena.analysis import comparison_pairs
from arena.judging import VOTES, candidate_pairs, load_votes
from arena.storage import MATCHES, RESULTS, TRANSCRIPTS, load_matches
from arena.web import transcripts as index

PLOTS = "report"


class LiveSource(Protocol):
    """Where matches finished while the server runs are kept until the run's tables are rewritten (a PlayRoom)."""

    run_dir: Path
    recorded: list[dict[str, Any]]
    transcripts: dict[str, list[dict[str, Any]]]


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
        """Changes when the match table the run is read from changes (the parquet file once it exists)."""
        source = self.path / MATCHES if (self.path / MATCHES).exists() else self.path / RESULTS
        return (index.file_stamp(source) or (0, 0, 0))

    @property
    def votes_stamp(self) -> tuple[int, ...]:
        return index.file_stamp(self.path / VOTES) or (0, 0, 0)

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


class Memo:
    """Values computed once per key, each key under its own lock (requests that queue behind a
    computation find it done); the newest ``size`` values are kept."""

    def __init__(self, size: int = 48):
        self.size = size
        self._values: OrderedDict[tuple, Any] = OrderedDict()
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: tuple, compute: Callable[[], Any]) -> Any:
        with self._guard:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                if key in self._values:
                    return self._values[key]
            value = compute()
            with self._guard:
                self._values[key] = value
                self._locks.pop(key, None)
                while len(self._values) > self.size:
                    self._values.popitem(last=False)
            return value


class Catalog:
    """Runs in the given directories (each a run, or a folder of runs one level down), with the
    matches that live sources (the play rooms) finished since they were last written to the tables."""

    def __init__(self, folders: list[Path], bootstrap: int = 1000, live: list[LiveSource] | None = None):
        self.folders, self.bootstrap = [Path(f) for f in folders], bootstrap
        self.live = {Path(source.run_dir).resolve(): source for source in (live or [])}
        self.memo = Memo()

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

    def _state(self, ref: RunRef) -> tuple:
        """What the run's match tables rest on: its table file, and how many live matches were added."""
        source = self.live.get(ref.path)
        return ref.stamp, len(source.recorded) if source is not None else 0

    def _cached(self, what: str, ref: RunRef, people: bool, compute: Callable[[pd.DataFrame], Any], *args) -> Any:
        """``compute`` over the run's matches (people's too only when ``people``): the agents' tables do
        not change when a person's match is added."""
        stamp, added = self._state(ref)
        key = (what, str(ref.path), stamp, added if people else -1, *args)
        return self.memo.get(key, lambda: compute(leaderboards.agent_matches(self.matches(ref), people)))

    def matches(self, ref: RunRef) -> pd.DataFrame:
        """Every match of the run, people's included."""
        stamp, added = self._state(ref)
        return self.memo.get(("matches", str(ref.path), stamp, added), lambda: self._read(ref, added))

    def _read(self, ref: RunRef, added: int) -> pd.DataFrame:
        stored = self.memo.get(("stored", str(ref.path), ref.stamp), lambda: load_matches(ref.path))
        source = self.live.get(ref.path)
        if source is None or not added:
            return stored
        extra = pd.DataFrame(source.recorded[:added])
        both = pd.concat([stored, extra[~extra["match_id"].isin(stored["match_id"])]], ignore_index=True)
        return both.sort_values("match_id", ignore_index=True)

    def record(self, ref: RunRef, match_id: str) -> dict[str, Any] | None:
        """One match's row, found through an index kept with the table."""
        stamp, added = self._state(ref)
        rows = self.memo.get(("rows", str(ref.path), stamp, added),
                             lambda: pd.Series(range(len(self.matches(ref))), index=self.matches(ref)["match_id"]))
        position = rows.get(match_id)
        return None if position is None else self.matches(ref).iloc[int(position)].to_dict()

    def summary(self, ref: RunRef) -> dict[str, Any]:
        return self._cached("summary", ref, True, summary)

    def leaderboard(self, ref: RunRef, by: str | None, people: bool = False) -> pd.DataFrame:
        return self._cached("board", ref, people, lambda m: leaderboards.leaderboard(m, by=by, bootstrap=self.bootstrap),
                            by)

    def metrics(self, ref: RunRef, people: bool = False) -> pd.DataFrame:
        return self._cached("metrics", ref, people, lambda m: leaderboards.metrics_table(m).round(3))

    def comparison(self, ref: RunRef, baseline: str) -> pd.DataFrame:
        return self._cached("compare", ref, False, lambda m: leaderboards.compare(
            m, comparison_pairs(m, [], baseline), ("utility", "agreement"), bootstrap=self.bootstrap), baseline)

    def pairs(self, ref: RunRef) -> pd.DataFrame:
        """The run's judgeable pairs of agents' matches (see arena.judging.candidate_pairs)."""
        return self._cached("pairs", ref, False, candidate_pairs)

    def people(self, ref: RunRef) -> pd.DataFrame:
        """People against the agents, paired with the agents' matches (see leaderboards.people_table)."""
        return self._cached("people", ref, True, lambda m: leaderboards.people_table(m, bootstrap=self.bootstrap))

    def votes_board(self, ref: RunRef) -> pd.DataFrame:
        """Ratings from the votes that pass the checks (a study's, in a study folder); ``attrs`` says
        what was dropped and how far raters agree."""
        key = ("votes", str(ref.path), ref.votes_stamp)
        return self.memo.get(key, lambda: rated_votes(ref.path, self.bootstrap))

    def transcript(self, ref: RunRef, match_id: str) -> list[dict[str, Any]]:
        """One match's moves: from the live source, else one seek into the run's indexed transcript file."""
        source = self.live.get(ref.path)
        if source is not None and match_id in source.transcripts:
            return source.transcripts[match_id]
        for name in (TRANSCRIPTS, RESULTS):
            path = ref.path / name
            for _ in range(2):  # once more if the file was replaced between the index and the read
                stamp = index.file_stamp(path)
                if stamp is None:
                    break
                offsets = self.memo.get(("offsets", str(path), stamp), lambda: index.line_offsets(path))
                if match_id not in offsets:
                    break
                moves = index.read_at(path, offsets[match_id], stamp)
                if moves is not None:
                    return moves
        raise KeyError(f"no transcript of match {match_id!r} in {ref.name}")


def rated_votes(run: Path, bootstrap: int) -> pd.DataFrame:
    from arena.study.data import vote_rules_for

    votes = load_votes(run)
    kept, dropped = leaderboards.vote_quality(votes, vote_rules_for(run / VOTES))
    table = leaderboards.vote_leaderboard(kept, bootstrap=bootstrap)
    table.attrs["notes"] = table.attrs.get("notes", []) + [
        f"{len(kept)} of {len(votes)} votes rated" + "".join(f"; {r.reason}: {r.votes}" for r in dropped.itertuples()),
        leaderboards.agreement_note(leaderboards.rater_agreement(kept))]
    return table


def summary(matches: pd.DataFrame) -> dict[str, Any]:
    """The few numbers at the top of a run's page (over every match, people's included)."""
    abandoned = int(leaderboards.abandoned(matches).sum())
    ok, unfinished = leaderboards.usable(matches)  # abandoned matches carry an error too
    return {"matches": len(matches), "errored": unfinished - abandoned, "abandoned": abandoned,
            "people": int(leaderboards.played_by_people(matches).sum()),
            "domains": ", ".join(sorted(matches["domain"].unique())),
            "agreement_rate": float(leaderboards.agreed(ok).mean()) if len(ok) else None,
            "ended_by": ok.groupby("ended_by").size().to_dict(), "note": leaderboards.assumption_note(matches)}
