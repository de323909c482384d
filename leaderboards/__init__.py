"""Judging results: Elo, Bradley-Terry with bootstrap intervals, negotiation metrics and plots.

Takes a table of matches (the columns of ``matches.parquet``) and imports nothing else of eq-arena.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from leaderboards.battles import VIEWS, battles, head_to_head, same_role, usable
from leaderboards.bradley_terry import BTResult, fit_bradley_terry, interval_ranks
from leaderboards.elo import online_elo
from leaderboards.metrics import metrics_table
from leaderboards import plots

METHODS = ("bt", "elo")


def leaderboard(matches: pd.DataFrame, method: str = "bt", view: str = "head-to-head", by: str | None = None,
                margin: float = 0.05, bootstrap: int = 1000, seed: int = 0, k: float = 16.0) -> pd.DataFrame:
    """Ratings per agent (and per domain when ``by="domain"``); excluded errored matches in ``attrs``."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if by not in (None, "domain"):
        raise ValueError(f"unknown grouping {by!r}; only 'domain' is supported")
    usable_matches, errored = usable(matches)
    parts = [("all", usable_matches)] if by is None else list(usable_matches.groupby("domain"))
    tables = []
    for name, part in parts:
        fights = battles(part, view, margin)
        if fights.empty:
            continue
        if method == "bt":
            table = fit_bradley_terry(fights, bootstrap, seed, role_advantage=(view == "head-to-head")).table
        else:
            table = online_elo(fights, k=k)[0]
        tables.append(table.assign(domain=name, view=view, method=method))
    result = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    result.attrs["errored_excluded"] = errored
    return result


def write_report(matches: pd.DataFrame, out: str | Path, bootstrap: int = 1000, seed: int = 0) -> list[Path]:
    """Write the leaderboard tables (CSV, Markdown) and all plots (PNG and SVG) into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    usable_matches, _ = usable(matches)
    fights = head_to_head(usable_matches)
    if fights.empty:
        return []
    bt = fit_bradley_terry(fights, bootstrap, seed)
    elo_table, trajectory = online_elo(fights)
    metrics = metrics_table(matches)
    bt.table.to_csv(out / "leaderboard.csv", index=False)
    metrics.to_csv(out / "metrics.csv", index=False)
    (out / "leaderboard.md").write_text(bt.table.to_markdown(index=False) + "\n\n" + metrics.to_markdown(index=False) + "\n")
    paths = [out / "leaderboard.csv", out / "metrics.csv", out / "leaderboard.md"]
    paths += plots.rating_bars(bt.table, out, "Bradley-Terry ratings, head-to-head with role advantage")
    paths += plots.win_rate_heatmap(fights, out)
    paths += plots.utility_distributions(matches, out)
    paths += plots.elo_trajectories(trajectory, out)
    return paths


__all__ = ["BTResult", "METHODS", "VIEWS", "battles", "fit_bradley_terry", "head_to_head", "interval_ranks",
           "leaderboard", "metrics_table", "online_elo", "plots", "same_role", "usable", "write_report"]
