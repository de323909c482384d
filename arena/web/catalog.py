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
from arena.archive import find_transcript
from arena.storage import LEGACY_TRANSCRIPTS, MATCHES, RESULTS, TRANSCRIPTS, load_matches
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

    def _stored(self, ref: RunRef) -> pd.DataFrame:
        return self.memo.get(("stored", str(ref.path), ref.stamp), lambda: load_matches(ref.path))

    def _extra(self, ref: RunRef, added: int) -> pd.DataFrame:
        """The live source's matches that the stored table does not hold yet (few: people's, this session)."""
        source = self.live.get(ref.path)
        if source is None or not added:
            return pd.DataFrame()
        ids = self.memo.get(("ids", str(ref.path), ref.stamp), lambda: frozenset(self._stored(ref)["match_id"]))
        return pd.DataFrame([r for r in source.recorded[:added] if r["match_id"] not in ids])

    def _read(self, ref: RunRef, added: int) -> pd.DataFrame:
        stored, extra = self._stored(ref), self._extra(ref, added)
        if extra.empty:
            return stored
        return pd.concat([stored, extra], ignore_index=True).sort_values("match_id", ignore_index=True)

    def record(self, ref: RunRef, match_id: str) -> dict[str, Any] | None:
        """One match's row: the live source's, else through an index of the stored table (kept per version)."""
        source = self.live.get(ref.path)
        if source is not None:
            found = next((r for r in reversed(source.recorded) if r["match_id"] == match_id), None)
            if found is not None:
                return found
        stored = self._stored(ref)
        rows = self.memo.get(("rows", str(ref.path), ref.stamp),
                             lambda: pd.Series(range(len(stored)), index=stored["match_id"]))
        position = rows.get(match_id)
        return None if position is None else stored.iloc[int(position)].to_dict()

    def summary(self, ref: RunRef) -> dict[str, Any]:
        """The run's summary from counts kept per version of the stored table, plus the live matches'."""
        stamp, added = self._state(ref)
        stored = self.memo.get(("counts", str(ref.path), stamp), lambda: counts(self._stored(ref)))
        extra = self.memo.get(("extra-counts", str(ref.path), stamp, added), lambda: counts(self._extra(ref, added)))
        return summary(stored, extra)

    def basis(self, ref: RunRef) -> str:
        """The caption naming the backends, models and response model the run's matches rest on."""
        return self._cached("basis", ref, True, leaderboards.basis_caption)

    def leaderboard(self, ref: RunRef, by: str | None, people: bool = False) -> pd.DataFrame:
        return self._cached("board", ref, people, lambda m: leaderboards.leaderboard(m, by=by, bootstrap=self.bootstrap),
                            by)

    def metrics(self, ref: RunRef, people: bool = False) -> pd.DataFrame:
        return self._cached("metrics", ref, people, lambda m: leaderboards.metrics_table(m).round(3))

    def comparison(self, ref: RunRef, baseline: str) -> pd.DataFrame:
        return self._cached("compare", ref, False, lambda m: leaderboards.compare(
            m, comparison_pairs(m, [], baseline), ("utility", "agreement")), baseline)

    def pairs(self, ref: RunRef) -> pd.DataFrame:
        """The run's judgeable pairs of agents' matches (see arena.judging.candidate_pairs)."""
        return self._cached("pairs", ref, False, candidate_pairs)

    def people(self, ref: RunRef) -> pd.DataFrame:
        """People against the agents, paired with the agents' matches (see leaderboards.people_table):
        computed over the people's matches and the agents' matches on the same coordinates only."""
        stamp, added = self._state(ref)

        def compute() -> pd.DataFrame:
            stored = self._stored(ref)
            split = self.memo.get(("split", str(ref.path), stamp), lambda: _split_people(stored))
            people = pd.concat([split[0], self._extra(ref, added)], ignore_index=True)
            agents = split[1][split[1]["coordinates"].isin(set(_coordinates(people)))].drop(columns="coordinates")
            return leaderboards.people_table(pd.concat([people, agents], ignore_index=True), bootstrap=self.bootstrap)

        return self.memo.get(("people", str(ref.path), stamp, added), compute)

    def votes_board(self, ref: RunRef) -> pd.DataFrame:
        """Ratings from the votes that pass the checks (a study's, in a study folder); ``attrs`` says
        what was dropped and how far raters agree."""
        key = ("votes", str(ref.path), ref.votes_stamp)
        return self.memo.get(key, lambda: rated_votes(ref.path, self.bootstrap))

    def transcript(self, ref: RunRef, match_id: str) -> list[dict[str, Any]]:
        """One match's moves: from the live source, else one seek into the run's log (or an old run's
        transcripts.jsonl) through an index of line offsets, else the finalized archive's indexed lookup."""
        source = self.live.get(ref.path)
        if source is not None and match_id in source.transcripts:
            return source.transcripts[match_id]
        moves = self._logged_transcript(ref, match_id)
        if moves is None and (ref.path / TRANSCRIPTS).exists():
            moves = find_transcript(ref.path / TRANSCRIPTS, match_id)
        if moves is None:
            raise KeyError(f"no transcript of match {match_id!r} in {ref.name}")
        return moves

    def _logged_transcript(self, ref: RunRef, match_id: str) -> list[dict[str, Any]] | None:
        for name in (RESULTS, LEGACY_TRANSCRIPTS):
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
        return None


def rated_votes(run: Path, bootstrap: int) -> pd.DataFrame:
    from arena.study.data import vote_rules_for

    votes = load_votes(run)
    kept, dropped = leaderboards.vote_quality(votes, vote_rules_for(run / VOTES))
    table = leaderboards.vote_leaderboard(kept, bootstrap=bootstrap)
    table.attrs["notes"] = table.attrs.get("notes", []) + [
        f"{len(kept)} of {len(votes)} votes rated" + "".join(f"; {r.reason}: {r.votes}" for r in dropped.itertuples()),
        leaderboards.agreement_note(leaderboards.rater_agreement(kept))]
    return table


def _coordinates(matches: pd.DataFrame) -> pd.Series:
    return matches["domain"] + "/" + matches["scenario"] + "/" + matches["repeat"].astype(str)


def _split_people(matches: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(people's matches, agents' matches with their coordinates) of a stored table."""
    mask = leaderboards.played_by_people(matches)
    return matches[mask], matches[~mask].assign(coordinates=_coordinates(matches[~mask]))


def counts(matches: pd.DataFrame) -> dict[str, Any]:
    """What a run's summary adds up: counts by kind of ending, domains, response models."""
    if matches.empty:
        return {"matches": 0, "unfinished": 0, "abandoned": 0, "people": 0, "ok": 0, "agreed": 0, "domains": set(),
                "ended_by": {}, "models": set()}
    ok, unfinished = leaderboards.usable(matches)
    models = set(matches["response_model"].dropna().astype(str)) if "response_model" in matches else set()
    return {"matches": len(matches), "unfinished": unfinished, "abandoned": int(leaderboards.abandoned(matches).sum()),
            "people": int(leaderboards.played_by_people(matches).sum()), "ok": len(ok),
            "agreed": int(leaderboards.agreed(ok).sum()), "domains": set(matches["domain"]),
            "ended_by": ok.groupby("ended_by").size().to_dict(), "models": models - {""}}


def summary(*parts: dict[str, Any]) -> dict[str, Any]:
    """The few numbers at the top of a run's page, from the counts of its parts (see counts)."""
    total = {k: sum(p[k] for p in parts) for k in ("matches", "unfinished", "abandoned", "people", "ok", "agreed")}
    ended_by: dict[str, int] = {}
    for part in parts:
        for how, n in part["ended_by"].items():
            ended_by[how] = ended_by.get(how, 0) + int(n)
    models = sorted(set().union(*(p["models"] for p in parts)))
    return {"matches": total["matches"], "errored": total["unfinished"] - total["abandoned"],
            "abandoned": total["abandoned"], "people": total["people"],
            "domains": ", ".join(sorted(set().union(*(p["domains"] for p in parts)))),
            "agreement_rate": total["agreed"] / total["ok"] if total["ok"] else None, "ended_by": ended_by,
            "note": leaderboards.assumption_note(pd.DataFrame({"response_model": models}))}
