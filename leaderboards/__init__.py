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


GROUPINGS = (None, "domain", "role")


def _battle_sets(matches: pd.DataFrame, view: str, by: str | None, margin: float) -> list[tuple[str, pd.DataFrame]]:
    """The battles to rate, overall or per domain or per role."""
    if by not in GROUPINGS:
        raise ValueError(f"unknown grouping {by!r}; choose domain or role")
    if by == "role":
        if view != "same-role":
            raise ValueError("ratings per role need the same-role view (--view same-role)")
        return [(str(role), part) for role, part in same_role(matches, margin).groupby("group")]
    parts = [("all", matches)] if by is None else list(matches.groupby("domain"))
    return [(str(name), battles(part, view, margin)) for name, part in parts]


def leaderboard(matches: pd.DataFrame, method: str = "bt", view: str = "head-to-head", by: str | None = None,
                margin: float = 0.05, bootstrap: int = 1000, seed: int = 0, k: float = 16.0) -> pd.DataFrame:
    """Ratings per agent, overall or per domain (``by="domain"``) or per role (``by="role"``, same-role
    view); the number of excluded errored matches is in ``attrs``."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    usable_matches, errored = usable(matches)
    tables = []
    for name, fights in _battle_sets(usable_matches, view, by, margin):
        if fights.empty:
            continue
        if method == "bt":
            table = fit_bradley_terry(fights, bootstrap, seed, role_advantage=(view == "head-to-head")).table
        else:
            table = online_elo(fights, k=k)[0]
        tables.append(table.assign(**{"domain" if by != "role" else "role": name, "view": view, "method": method}))
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


__all__ = ["BTResult", "GROUPINGS", "METHODS", "VIEWS", "battles", "fit_bradley_terry", "head_to_head", "interval_ranks",
           "leaderboard", "metrics_table", "online_elo", "plots", "same_role", "usable", "write_report"]
