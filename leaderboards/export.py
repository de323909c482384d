"""Tables as text in one of four formats, each carrying the basis it rests on.

``table`` and ``markdown`` end with the notes and the basis caption (columns that hold one value for
every row are left to the caption); ``csv`` keeps every basis column on every row, so the labels
survive a spreadsheet and ``pandas.read_csv`` alike; ``json`` is an object ``{"basis", "notes",
"rows"}``.
"""
from __future__ import annotations

import json
from typing import Iterable

import numpy as np
import pandas as pd

from leaderboards.basis import BASIS_COLUMNS, Basis

FORMATS = ("table", "csv", "json", "markdown")


def no_negative_zero(table: pd.DataFrame) -> pd.DataFrame:
    """The table with -0.0 made 0.0 in every float column (a rounded -0.0001 prints as "-0.0")."""
    out = table.copy()
    for column in out.select_dtypes(include=[np.floating]).columns:
        out[column] = out[column] + 0.0
    return out


def _constant_basis(table: pd.DataFrame) -> list[str]:
    """Basis columns (any prefix) holding one value in every row: the caption already says it."""
    return [c for c in table.columns if c.endswith(BASIS_COLUMNS) and table[c].astype(str).nunique() <= 1]


def render_table(table: pd.DataFrame, fmt: str, basis: Basis | None = None, notes: Iterable[str] = ()) -> str:
    """The table in ``fmt`` with its notes and (given a basis) its basis; no trailing newline."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    table = no_negative_zero(table)
    notes = list(notes) + (basis.warnings() if basis is not None else [])
    if fmt == "csv":
        return table.to_csv(index=False).rstrip("\n")
    if fmt == "json":
        rows = json.loads(table.to_json(orient="records"))
        if basis is None:
            return json.dumps(rows, indent=2, ensure_ascii=False)
        return json.dumps({"basis": basis.to_dict(), "notes": notes, "rows": rows}, indent=2, ensure_ascii=False,
                          default=str)
    shown = table.drop(columns=_constant_basis(table)) if basis is not None and len(table) else table
    caption = [basis.caption()] if basis is not None else []
    if fmt == "markdown":
        return "\n".join([shown.to_markdown(index=False), ""] + [f"> {n}\n" for n in notes]
                         + [f"*{c}*" for c in caption]).rstrip("\n")
    return "\n".join([shown.to_string(index=False) if len(shown) else "(no rows)"] + notes + caption)
