"""The report of a run: rating tables per role, head-to-head with its caveat, metrics and plots, each
labelled with the basis it rests on. A plot that cannot be drawn is a warning, never a failed run."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable

import pandas as pd

from leaderboards.basis import LABEL_COLUMNS, Basis, run_basis
from leaderboards.battles import usable
from leaderboards.export import no_negative_zero, render_table
from leaderboards.metrics import metrics_table
from leaderboards.ratings import leaderboard

COLUMNS = ["domain", "role", "rank", "agent", "rating", "lower", "upper", "agreement_rate", "battles", *LABEL_COLUMNS]
TABLES = {"leaderboard.csv": "per_role", "leaderboard_head_to_head.csv": "head_to_head", "metrics.csv": "metrics"}


def _section(title: str, table: pd.DataFrame, basis: Basis, notes: list[str]) -> str:
    shown = table[[c for c in COLUMNS if c in table]] if "rating" in table else table
    return f"## {title}\n\n{render_table(shown.round(3), 'markdown', basis, notes)}\n"


def _tables(matches: pd.DataFrame, basis: Basis, bootstrap: int, seed: int) -> dict[str, pd.DataFrame]:
    """The three tables of the report, each with the basis and fallback-share columns."""
    per_role = leaderboard(matches, bootstrap=bootstrap, seed=seed)
    h2h = leaderboard(matches, view="head-to-head", by="all", bootstrap=bootstrap, seed=seed)
    return {"per_role": basis.annotate(per_role), "head_to_head": basis.annotate(h2h),
            "metrics": basis.annotate(metrics_table(matches))}


def _plots(matches: pd.DataFrame, per_role: pd.DataFrame, out: Path, basis: Basis) -> list[tuple[str, Callable]]:
    """(name, draw) for every plot; each draw returns the paths it wrote."""
    from leaderboards import plots

    usable_matches, _ = usable(matches)
    jobs = []
    overall = per_role[per_role["domain"] == "all"]
    for role, table in overall.groupby("role"):
        title = f"Bradley-Terry ratings of {role} agents (same-role view)"
        jobs.append((f"ratings_{role}", lambda t=table, r=role, title=title:
                     plots.rating_bars(t, out, title, basis, name=f"ratings_{r}")))
    jobs.append(("win_rates", lambda: plots.win_rate_matrix(usable_matches, out, basis)))
    jobs.append(("utilities", lambda: plots.utility_distributions(usable_matches, out, basis)))
    jobs.append(("elo_trajectories", lambda: plots.elo_trajectories(usable_matches, out, basis)))
    return jobs


def _draw(jobs: list[tuple[str, Callable]], warn: Callable[[str], None]) -> tuple[list[Path], list[str]]:
    """Draw each plot; one that fails is named with its reason and skipped (the results are safe)."""
    from leaderboards import plots

    paths, skipped = [], []
    for name, draw in jobs:
        try:
            paths += draw()
        except Exception as exc:  # noqa: BLE001 - any drawing failure leaves the tables and other plots standing
            plots.close_all()
            skipped.append(f"plot {name} not drawn: {type(exc).__name__}: {exc}")
            warn(skipped[-1])
    return paths, skipped


def write_report(matches: pd.DataFrame, out: str | Path, bootstrap: int = 1000, seed: int = 0,
                 on_warning: Callable[[str], None] | None = None) -> list[Path]:
    """Write the leaderboard tables (CSV, Markdown) and all plots (PNG, SVG, PDF) into ``out``; a plot
    that fails is reported to ``on_warning`` (default: a Python warning) and listed in leaderboard.md."""
    warn = on_warning or (lambda text: warnings.warn(text, stacklevel=3))
    out = Path(out)
    usable_matches, _ = usable(matches)
    if usable_matches.empty:
        return []
    out.mkdir(parents=True, exist_ok=True)
    basis = run_basis(matches)
    tables = _tables(matches, basis, bootstrap, seed)
    paths = []
    for name, key in TABLES.items():
        no_negative_zero(tables[key]).to_csv(out / name, index=False)
        paths.append(out / name)
    drawn, skipped = _draw(_plots(matches, tables["per_role"], out, basis), warn)
    text = "\n".join([
        "# Leaderboard", "",
        _section("Ratings within each role (same-role view, Bradley-Terry, 95% cluster-bootstrap intervals)",
                 tables["per_role"], basis, tables["per_role"].attrs.get("notes", [])),
        _section("Head-to-head (focal vs counterpart on one scale)", tables["head_to_head"], basis,
                 tables["head_to_head"].attrs.get("notes", [])),
        _section("Metrics", tables["metrics"], basis, []),
        *(["## Plots not drawn", "", *[f"- {s}" for s in skipped], ""] if skipped else [])])
    (out / "leaderboard.md").write_text(text, encoding="utf-8")
    return paths + [out / "leaderboard.md"] + drawn
