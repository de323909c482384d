"""``arena study withdraw``: remove one participant's data from every file of a study folder, and
record (under a pseudonym) that it was done. The server must be stopped: it holds the folder."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from agents.llm import ConfigError
from arena.judging import VOTES
from arena.storage import RESULTS, RunLocked, RunStore, replaced_whole
from arena.study.store import EVENTS, STUDY_COPY, WITHDRAWALS, append_line, pseudonym, read_lines, salt_of


def _rewrite(path: Path, keep: Callable[[dict[str, Any]], bool], wrap: Callable[[dict], dict] = lambda e: e) -> int:
    """Rewrite a JSON-lines file without the lines ``keep`` rejects (whole or not at all); the count removed."""
    if not path.is_file():
        return 0
    kept, removed = [], 0
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                kept.append(line)  # not ours to judge: a damaged line stays for the run's own recovery
                continue
            if keep(wrap(entry)):
                kept.append(line)
            else:
                removed += 1
    if removed:
        with replaced_whole(path) as temporary:
            temporary.write_text("".join(kept), encoding="utf-8")
    return removed


def withdraw(folder: str | Path, participant: str) -> dict[str, int]:
    """Remove ``participant``'s events, matches (log, table and transcripts) and votes; returns the
    counts removed. A ConfigError if the folder is no study, is being served, or never saw the id."""
    folder = Path(folder)
    if not (folder / STUDY_COPY).is_file():
        raise ConfigError(f"{folder} is not a study folder (no {STUDY_COPY})")
    if not any(e.get("participant") == participant for e in read_lines(folder / EVENTS)):
        raise ConfigError(f"no participant {participant!r} in {folder} (give the id from the entry URL)")
    try:
        store = RunStore(folder)  # the folder's writer lock: refused while arena serve runs the study
    except RunLocked:
        raise ConfigError(f"{folder} is in use by a running arena serve; stop the server, then withdraw") from None
    try:
        index = next(e["index"] for e in read_lines(folder / EVENTS)
                     if e.get("event") == "consent" and e.get("participant") == participant)
        mine = lambda entry: participant in (entry.get("participant"), entry.get("person"))  # noqa: E731
        theirs = {mid for mid, record in store.records.items() if mine(record)}
        removed = {"events": _rewrite(folder / EVENTS, lambda e: not mine(e)),
                   "votes": _rewrite(folder / VOTES, lambda e: not mine(e)), "matches": len(theirs)}
        _rewrite(folder / RESULTS, lambda r: not mine(r), lambda e: e.get("record", {}))
        if theirs:
            store.records = {mid: r for mid, r in store.records.items() if mid not in theirs}
            store.finalize()  # matches.parquet and the transcripts archive rewritten without them
        append_line(folder / WITHDRAWALS, {"time": time.time(), "participant_hash": pseudonym(salt_of(folder), participant),
                                           "index": index, "removed": removed})
    finally:
        store.close()
    return removed
