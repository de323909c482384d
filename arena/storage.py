"""Durable results: one JSON line per finished match, flushed and fsynced as it finishes; once the run
is finalized, the match table and one compressed archive of records and transcripts (the log's
lines move there, so no transcript is stored twice)."""
from __future__ import annotations

import fcntl
import io
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
import pyarrow as pa

from arena.archive import ARCHIVE, archived_records, entries_table, find_transcript, iter_transcripts, read_archive, \
    write_archive
from arena.files import replaced_whole, sync_directory, writing

RESULTS = "results.jsonl"
Result = tuple[dict[str, Any], str]  # a match record and its log line (record + transcript as JSON)
MATCHES = "matches.parquet"
TRANSCRIPTS = ARCHIVE
LEGACY_TRANSCRIPTS = "transcripts.jsonl"  # before the archive: a copy of the log's transcripts (the log is read)
CORRUPT = "results.corrupt.jsonl"
LOCK = ".lock"


class RunLocked(OSError):
    """Another process is writing to the run directory."""


def record_problem(record: Any) -> str:
    """Why a logged record is not a finished match's row ("" if it is one); see arena.match.record_schema."""
    from arena.match import record_problem as problem

    return problem(record)


def parse_log(data: bytes) -> tuple[dict[str, dict[str, Any]], list[tuple[int, str]]]:
    """Records by match id from complete log lines, and the (line number, reason) of lines that are
    corrupt or hold an incomplete record."""
    records: dict[str, dict[str, Any]] = {}
    bad: list[tuple[int, str]] = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw.decode("utf-8"))
            record = entry["record"]
            problem = record_problem(record) or ("" if isinstance(entry.get("transcript"), list) else "no transcript")
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
            bad.append((number, type(exc).__name__))
            continue
        if problem:
            bad.append((number, problem))
        else:
            records[record["match_id"]] = record
    return records, bad


_DECODER = json.JSONDecoder()
_HEAD, _MIDDLE = '{"record": ', ', "transcript": '


def split_line(line: str) -> tuple[dict[str, Any], tuple[str, str]]:
    """A log line's record, and its record and transcript as JSON text; a line as ``encode`` writes
    it is cut apart without parsing the transcript (the bulk of it)."""
    if line.startswith(_HEAD):
        record, end = _DECODER.raw_decode(line, len(_HEAD))
        rest = line.rstrip()
        if rest.startswith(_MIDDLE, end) and rest.endswith("}"):
            return record, (line[len(_HEAD):end], rest[end + len(_MIDDLE):-1])
    entry = json.loads(line)
    return entry["record"], (json.dumps(entry["record"], ensure_ascii=False),
                             json.dumps(entry["transcript"], ensure_ascii=False))


def _where(bad: list[tuple[int, str]]) -> str:
    return ", ".join(f"line {n} ({reason})" for n, reason in bad[:3]) + (" ..." if len(bad) > 3 else "")


def _log_bytes(run: Path) -> bytes:
    """The complete lines of a run's log (a line being written is left out); b"" if there is none."""
    try:
        data = (run / RESULTS).read_bytes()
    except FileNotFoundError:
        return b""
    return data[: data.rfind(b"\n") + 1]


class RunStore:
    """An output directory: the append-only match log, and the final tables written from it."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self._lock = self._take_lock()
        self.log_path = self.out / RESULTS
        self.archive_path = self.out / TRANSCRIPTS
        self.records: dict[str, dict[str, Any]] = {}
        self._archived: set[str] = set()
        for stale in self.out.glob(".*.tmp"):  # a writer killed mid-write (we hold the lock: nobody else writes)
            stale.unlink(missing_ok=True)
        self._load()
        with writing(self.log_path):
            self._file = open(self.log_path, "a", encoding="utf-8")

    def _load(self) -> None:
        """Read the archive, then the log (the writer's view): a last line cut short by a kill is
        truncated away; corrupt or incomplete lines are moved to ``results.corrupt.jsonl`` and named."""
        if self.archive_path.exists():
            try:
                self.records = archived_records(self.archive_path)
            except (OSError, pa.ArrowException, ValueError) as exc:
                self._set_archive_aside(exc)
            self._archived = set(self.records)
        if not self.log_path.exists():
            return
        data = self.log_path.read_bytes()
        keep = data.rfind(b"\n") + 1
        if keep < len(data):
            with writing(self.log_path), open(self.log_path, "r+b") as f:
                f.truncate(keep)
        records, bad = parse_log(data[:keep])
        if bad:
            self._set_aside(data[:keep], bad)
        self.records.update(records)

    def _set_archive_aside(self, exc: Exception) -> None:
        aside = self.archive_path.with_name(f"{TRANSCRIPTS}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(self.archive_path, aside)
        self.records = {}
        warnings.warn(f"{self.archive_path} is unreadable ({type(exc).__name__}); moved it to {aside}: the matches "
                      "it held (and not the log) will be played again", stacklevel=4)

    def _set_aside(self, data: bytes, bad: list[tuple[int, str]]) -> None:
        lines = data.split(b"\n")
        numbers = {n for n, _ in bad}
        with writing(self.out / CORRUPT), open(self.out / CORRUPT, "ab") as aside:
            aside.writelines(lines[n - 1] + b"\n" for n in sorted(numbers))
            aside.flush()
            os.fsync(aside.fileno())
        kept = b"".join(line + b"\n" for i, line in enumerate(lines[:-1], 1) if i not in numbers)
        with replaced_whole(self.log_path) as temporary:
            temporary.write_bytes(kept)
        warnings.warn(f"{self.log_path}: {len(bad)} corrupt or incomplete line(s) moved to {self.out / CORRUPT}: "
                      f"{_where(bad)}; their matches will be played again", stacklevel=4)

    def _take_lock(self):
        """One writer per run directory: a second process is refused with one line."""
        with writing(self.out / LOCK):
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
        with writing(self.log_path):
            if self._file is None:
                self._file = open(self.log_path, "a", encoding="utf-8")
            for record, line in results:
                self._file.write(line + "\n")
                self.records[record["match_id"]] = record
            self._file.flush()
            os.fsync(self._file.fileno())

    def table(self) -> pd.DataFrame:
        frame = pd.DataFrame(sorted(self.records.values(), key=lambda r: r["match_id"]))
        return frame.reset_index(drop=True)

    def finalize(self) -> pd.DataFrame:
        """Write ``transcripts.parquet`` (the archive: the log's latest line per match, merged with the
        archive before) and ``matches.parquet``, each whole or not at all, then empty the log (its lines
        are in the archive); return the match table."""
        frame = self.table()
        logged = self._logged_entries()
        if logged or not self.archive_path.exists():
            merged = self._merged_archive(logged)
            with replaced_whole(self.archive_path) as temporary:
                write_archive(temporary, merged)
            self._archived = set(merged.column("match_id").to_pylist())
        self._write_table(frame)
        sync_directory(self.out)
        self._retire_log()
        return frame

    def _write_table(self, frame: pd.DataFrame) -> None:
        with replaced_whole(self.out / MATCHES) as temporary:
            frame.to_parquet(temporary, index=False)

    def _logged_entries(self) -> dict[str, tuple[str, str]]:
        """The log's latest line per match as (record JSON, transcript JSON), kept lines only."""
        if self._file is not None:
            self._file.flush()
        entries: dict[str, tuple[str, str]] = {}
        for raw in _log_bytes(self.out).split(b"\n"):
            if raw.strip():
                record, parts = split_line(raw.decode("utf-8"))
                if record["match_id"] in self.records:
                    entries[record["match_id"]] = parts
        return entries

    def _merged_archive(self, logged: dict[str, tuple[str, str]]) -> pa.Table:
        """The archive's rows not replaced by the log, then the log's."""
        table = entries_table(logged)
        if self._archived and self.archive_path.exists():
            old = read_archive(self.archive_path)
            keep = [mid not in logged and mid in self.records for mid in old.column("match_id").to_pylist()]
            table = pa.concat_tables([old.filter(pa.array(keep, pa.bool_())), table])
        return table

    def _retire_log(self) -> None:
        """The log's lines are in the archive now: remove it (a crash before this leaves both, which
        read the same)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        with writing(self.log_path):
            self.log_path.unlink(missing_ok=True)
            (self.out / LEGACY_TRANSCRIPTS).unlink(missing_ok=True)
        sync_directory(self.out)

    def drop(self, match_ids: set[str], aside: str, why: str) -> int:
        """Move the finished results of ``match_ids`` (log lines and archive rows) to the file ``aside``
        in the run directory, so they are played again; returns how many were moved."""
        match_ids = match_ids & set(self.records)
        if not match_ids:
            return 0
        if self._file is not None:
            self._file.flush()
        lines = [raw for raw in _log_bytes(self.out).split(b"\n") if raw.strip()]
        reason = f', "dropped": {json.dumps(why)}}}'.encode()
        dropped = [raw.rstrip()[:-1] + reason for raw in lines if _line_id(raw) in match_ids]
        archived = (read_archive(self.archive_path) if self.archive_path.exists() and self._archived
                    else entries_table({}))
        ids = archived.column("match_id").to_pylist()
        for mid, rec, transcript in zip(ids, archived["record"].to_pylist(), archived["transcript"].to_pylist()):
            if mid in match_ids:
                dropped.append(f'{{"record": {rec}, "transcript": {transcript}'.encode() + reason)
        with writing(self.out / aside), open(self.out / aside, "ab") as handle:
            handle.writelines(raw + b"\n" for raw in dropped)
            handle.flush()
            os.fsync(handle.fileno())
        if self._file is not None:
            self._file.close()
            self._file = None
        with replaced_whole(self.log_path) as temporary:
            temporary.write_bytes(b"".join(raw + b"\n" for raw in lines if _line_id(raw) not in match_ids))
        if archived.num_rows:
            with replaced_whole(self.archive_path) as temporary:
                write_archive(temporary, archived.filter(pa.array([mid not in match_ids for mid in ids], pa.bool_())))
        for mid in match_ids:
            del self.records[mid]
        self._archived -= match_ids
        if (self.out / MATCHES).exists():
            self._write_table(self.table())
        return len(match_ids)

    @staticmethod
    def encode(record: dict[str, Any], transcript: list[dict[str, Any]]) -> Result:
        """A result ready to append (workers encode, so the driver only writes)."""
        return record, json.dumps({"record": record, "transcript": transcript}, ensure_ascii=False, default=str)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._lock.close()  # closing the handle releases the lock


def _line_id(raw: bytes) -> str | None:
    try:
        return json.loads(raw)["record"]["match_id"]
    except (ValueError, KeyError, TypeError):
        return None


def _log_records(run: Path) -> dict[str, dict[str, Any]]:
    """The records of a run's log, read without touching it; bad lines are named in a warning."""
    records, bad = parse_log(_log_bytes(run))
    if bad:
        warnings.warn(f"{run / RESULTS}: skipped {len(bad)} corrupt or incomplete line(s), first at line {bad[0][0]} "
                      f"({bad[0][1]}); resuming the run (arena tournament --out {run}) moves them aside", stacklevel=3)
    return records


def load_records(run: str | Path) -> dict[str, dict[str, Any]]:
    """Every finished match's record by id, as written: the archive, then the log (newer) over it."""
    run = Path(run)
    archived = archived_records(run / TRANSCRIPTS) if (run / TRANSCRIPTS).exists() else {}
    return archived | _log_records(run)


def load_matches(run: str | Path) -> pd.DataFrame:
    """The match table of a run: the parquet file, or the archive and live log of an unfinished run."""
    run = Path(run)
    if (run / MATCHES).exists():
        # one read of the whole file: parquet readers may open a path more than once, and a writer
        # replacing the file in between would hand them the footer of one version and pages of another
        frame = pd.read_parquet(io.BytesIO((run / MATCHES).read_bytes()))
        if frame.empty:
            raise FileNotFoundError(f"{run} has no finished matches")
        return frame
    if (run / RESULTS).exists() or (run / TRANSCRIPTS).exists():  # an unfinished run: read it, touch nothing
        frame = pd.DataFrame(sorted(load_records(run).values(), key=lambda r: r["match_id"]))
        if frame.empty:
            raise FileNotFoundError(f"{run} has no finished matches yet")
        return frame.reset_index(drop=True)
    raise FileNotFoundError(f"{run} holds no tournament results ({MATCHES} or {RESULTS})")


def _logged_transcripts(lines: list[bytes]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    for raw in lines:
        try:
            entry = json.loads(raw)
            yield entry["record"]["match_id"], entry["transcript"]
        except (ValueError, KeyError, TypeError):  # a corrupt line: skipped here, named by load_matches
            continue


def load_transcripts(run: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Every match's transcript by match id: the archive, then the log (newer) over it."""
    run = Path(run)
    found = dict(iter_transcripts(run / TRANSCRIPTS)) if (run / TRANSCRIPTS).exists() else {}
    return found | dict(_logged_transcripts(_log_bytes(run).split(b"\n")))


def load_transcript(run: str | Path, match_id: str) -> list[dict[str, Any]]:
    """One match's transcript: from the log if the match is there (only lines holding its id are
    parsed), else by an indexed lookup in the archive."""
    run = Path(run)
    key = json.dumps(match_id, ensure_ascii=False).encode()
    data = _log_bytes(run)
    candidates = [raw for raw in data.split(b"\n") if key in raw] if key in data else []
    found = [t for mid, t in _logged_transcripts(candidates) if mid == match_id]
    if found:
        return found[-1]  # the latest attempt
    if (run / TRANSCRIPTS).exists():
        transcript = find_transcript(run / TRANSCRIPTS, match_id)
        if transcript is not None:
            return transcript
    raise KeyError(f"no match {match_id!r} in {run}")
