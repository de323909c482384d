"""Durable results: one JSON line per finished match, flushed and fsynced as it finishes."""
from __future__ import annotations

import fcntl
import io
import json
import os
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

RESULTS = "results.jsonl"
Result = tuple[dict[str, Any], str]  # a match record and its log line (record + transcript as JSON)
MATCHES = "matches.parquet"
TRANSCRIPTS = "transcripts.jsonl"
CORRUPT = "results.corrupt.jsonl"
LOCK = ".lock"


@contextmanager
def replaced_whole(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target`` that replaces it only once the block has completed, so a
    reader finds the old file or the new one, never half of one."""
    temporary = target.with_name(f".{target.name}.tmp")
    yield temporary
    os.replace(temporary, target)


class RunLocked(OSError):
    """Another process is writing to the run directory."""


def parse_log(data: bytes) -> tuple[dict[str, dict[str, Any]], list[tuple[int, str]]]:
    """Records by match id from complete log lines, and the (line number, reason) of corrupt ones."""
    records: dict[str, dict[str, Any]] = {}
    bad: list[tuple[int, str]] = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))["record"]
            records[record["match_id"]] = record
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            bad.append((number, type(exc).__name__))
    return records, bad


class RunStore:
    """An output directory: the append-only match log, and the final tables written from it."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self._lock = self._take_lock()
        self.log_path = self.out / RESULTS
        self.records: dict[str, dict[str, Any]] = {}
        self._load()
        self._file = open(self.log_path, "a", encoding="utf-8")

    def _load(self) -> None:
        """Read the log (the writer's view): a last line cut short by a kill is truncated away;
        corrupt lines elsewhere are moved to ``results.corrupt.jsonl`` and named, never dropped."""
        if not self.log_path.exists():
            return
        data = self.log_path.read_bytes()
        keep = data.rfind(b"\n") + 1
        if keep < len(data):
            with open(self.log_path, "r+b") as f:
                f.truncate(keep)
        records, bad = parse_log(data[:keep])
        if bad:
            self._set_aside(data[:keep], bad)
        self.records = records

    def _set_aside(self, data: bytes, bad: list[tuple[int, str]]) -> None:
        lines = data.split(b"\n")
        numbers = {n for n, _ in bad}
        with open(self.out / CORRUPT, "ab") as aside:
            aside.writelines(lines[n - 1] + b"\n" for n in sorted(numbers))
        kept = b"".join(line + b"\n" for i, line in enumerate(lines[:-1], 1) if i not in numbers)
        with replaced_whole(self.log_path) as temporary:
            temporary.write_bytes(kept)
        where = ", ".join(f"line {n} ({reason})" for n, reason in bad[:3]) + (" ..." if len(bad) > 3 else "")
        warnings.warn(f"{self.log_path}: {len(bad)} corrupt line(s) moved to {self.out / CORRUPT}: {where}; "
                      "their matches will be played again", stacklevel=3)

    def _take_lock(self):
        """One writer per run directory: a second process is refused with one line."""
        handle = open(self.out / LOCK, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunLocked(f"{self.out} is being written by {holder}; wait for it to finish or use another --out")
        handle.seek(0)
        handle.truncate()
        handle.write(f"arena process {os.getpid()}")
        handle.flush()
        return handle

    @property
    def finished(self) -> set[str]:
        """Matches with a result (errored ones are run again on resume)."""
        return {mid for mid, rec in self.records.items() if not rec.get("error")}

    def append(self, results: list[Result]) -> None:
        """Write finished matches (those that arrived together) and make them durable before returning."""
        for record, line in results:
            self._file.write(line + "\n")
            self.records[record["match_id"]] = record
        self._file.flush()
        os.fsync(self._file.fileno())

    def table(self) -> pd.DataFrame:
        frame = pd.DataFrame(sorted(self.records.values(), key=lambda r: r["match_id"]))
        return frame.reset_index(drop=True)

    def finalize(self) -> pd.DataFrame:
        """Write ``matches.parquet`` and ``transcripts.jsonl`` (each whole or not at all: a temporary
        file renamed into place); return the match table."""
        frame = self.table()
        with replaced_whole(self.out / MATCHES) as temporary:
            frame.to_parquet(temporary, index=False)
            self._write_transcripts()
        return frame

    def _write_transcripts(self) -> None:
        """Stream the log into ``transcripts.jsonl``: the latest attempt of each match, in log order."""
        self._file.flush()
        with open(self.log_path, encoding="utf-8") as log:
            last = {json.loads(line)["record"]["match_id"]: i for i, line in enumerate(log) if line.strip()}
        keep = set(last.values())
        with replaced_whole(self.out / TRANSCRIPTS) as temporary:
            with open(self.log_path, encoding="utf-8") as log, open(temporary, "w", encoding="utf-8") as out:
                for i, line in enumerate(log):
                    if i in keep:
                        entry = json.loads(line)
                        out.write(json.dumps({"match_id": entry["record"]["match_id"],
                                              "transcript": entry["transcript"]}, ensure_ascii=False) + "\n")

    @staticmethod
    def encode(record: dict[str, Any], transcript: list[dict[str, Any]]) -> Result:
        """A result ready to append (workers encode, so the driver only writes)."""
        return record, json.dumps({"record": record, "transcript": transcript}, ensure_ascii=False, default=str)

    def close(self) -> None:
        self._file.close()
        self._lock.close()  # closing the handle releases the lock


def load_matches(run: str | Path) -> pd.DataFrame:
    """The match table of a run: the parquet file, or the live log of an unfinished run."""
    run = Path(run)
    if (run / MATCHES).exists():
        # one read of the whole file: parquet readers may open a path more than once, and a writer
        # replacing the file in between would hand them the footer of one version and pages of another
        frame = pd.read_parquet(io.BytesIO((run / MATCHES).read_bytes()))
        if frame.empty:
            raise FileNotFoundError(f"{run} has no finished matches")
        return frame
    if (run / RESULTS).exists():  # an unfinished run: read its log without touching it
        data = (run / RESULTS).read_bytes()
        records, bad = parse_log(data[: data.rfind(b"\n") + 1])
        if bad:
            warnings.warn(f"{run / RESULTS}: skipped {len(bad)} corrupt line(s), first at line {bad[0][0]}; "
                          f"resuming the run (arena tournament --out {run}) moves them aside", stacklevel=2)
        frame = pd.DataFrame(sorted(records.values(), key=lambda r: r["match_id"]))
        if frame.empty:
            raise FileNotFoundError(f"{run} has no finished matches yet")
        return frame.reset_index(drop=True)
    raise FileNotFoundError(f"{run} holds no tournament results ({MATCHES} or {RESULTS})")


def load_transcripts(run: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Every finished match's transcript by match id, from a finished run's ``transcripts.jsonl``."""
    with open(Path(run) / TRANSCRIPTS, encoding="utf-8") as f:
        return {entry["match_id"]: entry["transcript"] for entry in map(json.loads, f)}


def load_transcript(run: str | Path, match_id: str) -> list[dict[str, Any]]:
    run = Path(run)
    for name in (TRANSCRIPTS, RESULTS):
        path = run / name
        if not path.exists():
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:  # a cut-off or corrupt line: the other file may still hold the match
                    continue
                mid = entry.get("match_id") or entry.get("record", {}).get("match_id")
                if mid == match_id:
                    return entry["transcript"]
    raise KeyError(f"no match {match_id!r} in {run}")
