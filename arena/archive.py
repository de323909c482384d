"""The finalized match log: ``transcripts.parquet``, one row per match (its id, the record and the
transcript as JSON text), sorted by match id in small zstd-compressed row groups, so one match is
found by reading the footer and a single row group rather than the whole file."""
from __future__ import annotations

import bisect
import json
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

ARCHIVE = "transcripts.parquet"
SCHEMA = pa.schema([("match_id", pa.string()), ("record", pa.string()), ("transcript", pa.string())])
ROWS_PER_GROUP = 128  # a lookup decompresses one group: about 1 MB of JSON on a scripted run (~10 ms)
COMPRESSION_LEVEL = 6  # zstd: the default scripted run's 65 MB of JSON become 1.6 MB in about a second


def entries_table(entries: dict[str, tuple[str, str]]) -> pa.Table:
    """A table of ``{match_id: (record JSON, transcript JSON)}``."""
    ids = sorted(entries)
    return pa.table({"match_id": ids, "record": [entries[i][0] for i in ids],
                     "transcript": [entries[i][1] for i in ids]}, schema=SCHEMA)


def write_archive(path: Path, table: pa.Table) -> None:
    """Write ``table`` to ``path`` sorted by match id (the caller makes the write whole or nothing)."""
    table = table.sort_by("match_id")
    pq.write_table(table, path, row_group_size=ROWS_PER_GROUP, compression="zstd",
                   compression_level=COMPRESSION_LEVEL, use_dictionary=["match_id"], write_statistics=["match_id"])


def read_archive(path: Path, columns: list[str] | None = None) -> pa.Table:
    """The whole archive (or some of its columns), read from one open handle: a writer replacing the
    file meanwhile cannot mix two versions."""
    with open(path, "rb") as handle:
        return pq.read_table(handle, columns=columns)


def archived_records(path: Path) -> dict[str, dict[str, Any]]:
    """Records by match id, exactly as they were logged (JSON, not the typed table)."""
    table = read_archive(path, ["match_id", "record"])
    return {mid: json.loads(rec) for mid, rec in zip(table["match_id"].to_pylist(), table["record"].to_pylist())}


def iter_transcripts(path: Path) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Every archived match id and transcript, one row group at a time."""
    with open(path, "rb") as handle:
        archive = pq.ParquetFile(handle)
        for group in range(archive.num_row_groups):
            rows = archive.read_row_group(group, columns=["match_id", "transcript"])
            for mid, text in zip(rows["match_id"].to_pylist(), rows["transcript"].to_pylist()):
                yield mid, json.loads(text)


def find_transcript(path: Path, match_id: str) -> list[dict[str, Any]] | None:
    """One match's transcript, or None: a binary search over the row groups' id ranges, then one group."""
    with open(path, "rb") as handle:
        archive = pq.ParquetFile(handle)
        meta = archive.metadata
        column = meta.schema.names.index("match_id")
        stats = [meta.row_group(g).column(column).statistics for g in range(meta.num_row_groups)]
        if all(s is not None and s.has_min_max for s in stats):
            group = bisect.bisect_left([s.max for s in stats], match_id)
            groups = [group] if group < len(stats) else []
        else:  # written without id ranges (not by us): look through every group
            groups = list(range(meta.num_row_groups))
        for group in groups:
            rows = archive.read_row_group(group, columns=["match_id", "transcript"])
            ids = rows["match_id"].to_pylist()
            at = bisect.bisect_left(ids, match_id)
            if at < len(ids) and ids[at] == match_id:
                return json.loads(rows["transcript"][at].as_py())
    return None
