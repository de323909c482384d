"""Import EmoMAS-format scenario CSVs, recovering rows from the published files' defects.

The published files have unquoted commas inside text fields, CRLF line ends, curly quotes and
clock-time strings. Only text columns can hold commas, so a row with too many fields is rebuilt
by trying every way of giving the extra fields to text columns and keeping the layouts in which
every typed column parses. Rows that cannot be rebuilt are named with the reason; none is dropped
silently.
"""
from __future__ import annotations

import csv
import functools
import io
import itertools
import re
import tomllib
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import numpy as np

from envs.domains import DOMAINS, get_domain
from envs.scenarios import SCENARIO_SEED, TRAIN_SIZE, Scenario, build_scenario, scenario_pools

_CLOCK = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*([AaPp])\.?\s*[Mm]\.?\s*$")
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


class CSVImportError(ValueError):
    """Raised when rows of an EmoMAS CSV cannot be recovered; lists every such row and why."""

    def __init__(self, path: str, failures: list[tuple[int, str]]):
        self.failures = failures
        lines = "\n".join(f"  line {line}: {reason}" for line, reason in failures)
        super().__init__(f"{path}: {len(failures)} row(s) could not be parsed:\n{lines}")


def clock_to_minutes_past_9pm(text: str) -> int:
    """'10:30 PM' -> 90, '2:00 AM' -> 300, '8:45 PM' -> -15 (early-morning times count after midnight)."""
    match = _CLOCK.match(text)
    if not match:
        raise ValueError(f"not a clock time: {text!r}")
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3).lower()
    if not (1 <= hour <= 12 and 0 <= minute < 60):
        raise ValueError(f"not a clock time: {text!r}")
    hour24 = hour % 12 + (12 if half == "p" else 0)
    minutes = hour24 * 60 + minute - 21 * 60
    return minutes + 24 * 60 if minutes < -180 else minutes


def _parse_number(text: str) -> float:
    cleaned = text.strip().replace("$", "").replace(",", "")
    value = float(cleaned)
    if value != value:  # NaN
        raise ValueError("NaN")
    return value


def _parse_int(text: str) -> int:
    value = _parse_number(text)
    if not value.is_integer():
        raise ValueError(f"not an integer: {text!r}")
    return int(value)


def _parse_urgency(text: str) -> str:
    value = text.strip().capitalize()
    if value not in ("High", "Medium", "Low"):
        raise ValueError(f"not an urgency level: {text!r}")
    return value


PARSERS: dict[str, Callable[[str], Any]] = {
    "int": _parse_int, "number": _parse_number, "clock": clock_to_minutes_past_9pm,
    "urgency": _parse_urgency, "text": lambda text: text.strip(),
}


@dataclass(frozen=True)
class Layout:
    """The column names, kinds and field mapping of one domain's CSV."""

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    fields: dict[str, str]


@functools.cache
def layout(domain: str) -> Layout:
    text = resources.files("envs").joinpath("data/emomas_columns.toml").read_text(encoding="utf-8")
    spec = tomllib.loads(text)[domain]
    names, kinds = zip(*spec["columns"])
    return Layout(tuple(names), tuple(kinds), dict(spec["fields"]))


def _typed(layout_: Layout, cells: list[str]) -> dict[str, Any] | str:
    """Parse every cell by its column kind; on failure return the reason."""
    row = {}
    for name, kind, cell in zip(layout_.names, layout_.kinds, cells):
        try:
            row[name] = PARSERS[kind](cell)
        except (ValueError, OverflowError):
            return f"column {name!r} should be {kind} but holds {cell.strip()!r}"
    return row


def _continuation_score(pieces: list[str]) -> int:
    """How many merged pieces look like a continuation (leading space or lowercase)."""
    return sum(1 for p in pieces[1:] if p[:1].isspace() or p[:1].islower())


def _candidates(layout_: Layout, fields: list[str]):
    """Every layout of ``fields`` that gives the extra fields to text columns."""
    extra = len(fields) - len(layout_.names)
    text_cols = [i for i, kind in enumerate(layout_.kinds) if kind == "text"]
    for combo in itertools.combinations_with_replacement(text_cols, extra):
        widths = [1 + combo.count(i) for i in range(len(layout_.names))]
        cells, score, pos = [], 0, 0
        for width in widths:
            pieces = fields[pos:pos + width]
            score += _continuation_score(pieces)
            cells.append(",".join(pieces))
            pos += width
        yield score, cells


def recover_row(layout_: Layout, fields: list[str]) -> dict[str, Any] | str:
    """A typed row from raw fields, rebuilding rows with unquoted commas; a reason string on failure."""
    if len(fields) < len(layout_.names):
        return f"has {len(fields)} fields, expected {len(layout_.names)}"
    if len(fields) == len(layout_.names):
        return _typed(layout_, fields)
    best: tuple[int, dict[str, Any]] | None = None
    for score, cells in _candidates(layout_, fields):
        typed = _typed(layout_, cells)
        if isinstance(typed, dict) and (best is None or score > best[0]):
            best = (score, typed)
    if best is None:
        return (f"has {len(fields)} fields for {len(layout_.names)} columns and no way of merging "
                f"text fields makes the typed columns parse")
    return best[1]


def _targets(domain: str, row: dict[str, Any], fields: dict[str, str]) -> tuple[int, int]:
    """(focal, counterpart) targets from a typed row, with the same rules as the generator."""
    if domain == "rescue":
        endurance = max(10, int(row[fields["endurance_minutes"]]))
        return max(int(row[fields["eta_minutes"]]), endurance + 30), endurance
    if domain == "hospital":
        pool = scenario_pools()["hospital"]
        wait, saved = int(row[fields["days_on_waitlist"]]), int(row[fields["junior_surgeon_days_saved"]])
        patient = max(1, wait - saved)
        extra = pool["low_urgency_extra_days"] if row[fields["urgency"]] == "Low" else 0
        return max(wait + extra, patient + pool["min_gap_days"]), patient
    focal, counter = int(row[fields["focal_target"]]), int(row[fields["counterpart_target"]])
    if domain == "sleep":
        counter = max(counter, focal + scenario_pools()["sleep"]["min_gap_minutes"])
    return focal, counter


def _to_scenario(domain: str, index: int, row: dict[str, Any]) -> Scenario:
    spec = layout(domain)
    focal, counter = _targets(domain, row, spec.fields)
    context = {key: row[col] for key, col in spec.fields.items() if key in get_domain(domain).context_fields}
    if domain == "rescue":
        context["endurance_minutes"] = int(row[spec.fields["endurance_minutes"]])
    context = {k: (int(v) if isinstance(v, float) and v.is_integer() else v) for k, v in context.items()}
    rng = np.random.default_rng([SCENARIO_SEED, list(DOMAINS).index(domain), 10_000 + index])
    split = "train" if index < TRAIN_SIZE else "test"
    return build_scenario(get_domain(domain), index, split, focal, counter, context, rng,
                          scenario_id=f"{domain}-emomas-{index:03d}")


def load_emomas_csv(path: str | Path, domain: str, on_error: str = "raise") -> list[Scenario]:
    """Scenarios from an EmoMAS CSV of ``domain``.

    Rows that cannot be recovered raise :class:`CSVImportError` naming each one
    (``on_error="warn"`` warns with the same list and returns the rest).
    """
    get_domain(domain)
    if on_error not in ("raise", "warn"):
        raise ValueError(f"on_error must be 'raise' or 'warn', got {on_error!r}")
    text = Path(path).read_bytes().decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    reader = csv.reader(io.StringIO(text.translate(_QUOTES)))
    spec = layout(domain)
    header = [h.strip() for h in next(reader, [])]
    if header != list(spec.names):
        raise CSVImportError(str(path), [(1, f"header does not match the {domain} layout: {header[:4]}...")])
    scenarios, failures = [], []
    for fields in reader:
        if not any(f.strip() for f in fields):
            continue
        typed = recover_row(spec, fields)
        if isinstance(typed, str):
            failures.append((reader.line_num, typed))
        else:
            scenarios.append(_to_scenario(domain, len(scenarios) + len(failures), typed))
    if failures and on_error == "raise":
        raise CSVImportError(str(path), failures)
    if failures:
        warnings.warn(str(CSVImportError(str(path), failures)), stacklevel=2)
    return scenarios
