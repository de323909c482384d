"""Finding one match's transcript without reading the whole file: an index of line offsets, built once
per version of the file, then one seek and one line per lookup."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

# The id is the first "match_id" of a line in both files: {"match_id": ... (transcripts.jsonl) and
# {"record": {"match_id": ... (results.jsonl); a record's first field is its match id.
_MATCH_ID = re.compile(rb'"match_id": ("(?:[^"\\]|\\.)*")')
_HEAD = 400


def file_stamp(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is appended to or replaced (None when it is missing)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def line_offsets(path: Path) -> dict[str, int]:
    """Byte offset of each match's line (a later line of the same match wins: its latest attempt)."""
    offsets: dict[str, int] = {}
    offset = 0
    with open(path, "rb") as lines:
        for line in lines:
            found = _MATCH_ID.search(line, 0, _HEAD)
            if found is not None:
                try:
                    offsets[json.loads(found.group(1))] = offset
                except ValueError:
                    pass
            offset += len(line)
    return offsets


def read_at(path: Path, offset: int, stamp: tuple[int, int, int]) -> list[dict[str, Any]] | None:
    """The transcript on the line at ``offset``, or None if the file is no longer the indexed version."""
    with open(path, "rb") as f:
        stat = os.fstat(f.fileno())
        if (stat.st_ino, stat.st_size, stat.st_mtime_ns) != stamp:
            return None
        f.seek(offset)
        try:
            return json.loads(f.readline())["transcript"]
        except (ValueError, KeyError):
            return None
