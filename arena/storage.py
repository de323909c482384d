"""Durable results: one JSON line per finished match, flushed and fsynced as it finishes."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

RESULTS = "results.jsonl"
Result = tuple[dict[str, Any], str]  # a match record and its log line (record + transcript as JSON)
MATCHES = "matches.parquet"
TRANSCRIPTS = "transcripts.jsonl"


class RunStore:
    """An output directory: the append-only match log, and the final tables written from it."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.log_path = self.out / RESULTS
        self.records: dict[str, dict[str, Any]] = {}
        self._load()
        self._file = open(self.log_path, "a", encoding="utf-8")

    def _load(self) -> None:
        """Read the log; a last line cut short by a kill is dropped and truncated away."""
        if not self.log_path.exists():
            return
        data = self.log_path.read_bytes()
        keep = data.rfind(b"\n") + 1
        if keep < len(data):
            with open(self.log_path, "r+b") as f:
                f.truncate(keep)
        for line in data[:keep].decode("utf-8").splitlines():
            if line.strip():
                record = json.loads(line)["record"]
                self.records[record["match_id"]] = record

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
        """Write ``matches.parquet`` and ``transcripts.jsonl``; return the match table."""
        frame = self.table()
        frame.to_parquet(self.out / MATCHES, index=False)
        self._write_transcripts()
        return frame

    def _write_transcripts(self) -> None:
        """Stream the log into ``transcripts.jsonl``: the latest attempt of each match, in log order."""
        self._file.flush()
        with open(self.log_path, encoding="utf-8") as log:
            last = {json.loads(line)["record"]["match_id"]: i for i, line in enumerate(log) if line.strip()}
        keep = set(last.values())
        with open(self.log_path, encoding="utf-8") as log, open(self.out / TRANSCRIPTS, "w", encoding="utf-8") as out:
            for i, line in enumerate(log):
                if i in keep:
                    entry = json.loads(line)
                    out.write(json.dumps({"match_id": entry["record"]["match_id"], "transcript": entry["transcript"]},
                                         ensure_ascii=False) + "\n")

    @staticmethod
    def encode(record: dict[str, Any], transcript: list[dict[str, Any]]) -> Result:
        """A result ready to append (workers encode, so the driver only writes)."""
        return record, json.dumps({"record": record, "transcript": transcript}, ensure_ascii=False, default=str)

    def close(self) -> None:
        self._file.close()


def load_matches(run: str | Path) -> pd.DataFrame:
    """The match table of a run: the parquet file, or the live log of an unfinished run."""
    run = Path(run)
    if (run / MATCHES).exists():
        return pd.read_parquet(run / MATCHES)
    if (run / RESULTS).exists():
        store = RunStore(run)
        store.close()
        return store.table()
    raise FileNotFoundError(f"{run} holds no tournament results ({MATCHES} or {RESULTS})")


def load_transcript(run: str | Path, match_id: str) -> list[dict[str, Any]]:
    run = Path(run)
    for name in (TRANSCRIPTS, RESULTS):
        path = run / name
        if not path.exists():
            continue
        with open(path, encoding="utf-8") as f:
            for line in f:
                entry = json.loads(line)
                mid = entry.get("match_id") or entry.get("record", {}).get("match_id")
                if mid == match_id:
                    return entry["transcript"]
    raise KeyError(f"no match {match_id!r} in {run}")
