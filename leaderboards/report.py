"""The report of a run: rating tables per role, head-to-head with its caveat, metrics and plots."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from leaderboards.battles import head_to_head, usable
from leaderboards.elo import online_elo
from leaderboards.metrics import metrics_table
from leaderboards.ratings import leaderboard

COLUMNS = ["domain", "role", "rank", "agent", "rating", "lower", "upper", "agreement_rate", "battles"]


def _markdown(title: str, table: pd.DataFrame, notes: list[str]) -> str:
    shown = table[[c for c in COLUMNS if c in table]].round(3)
    lines = [f"## {title}", "", shown.to_markdown(index=False), ""]
    return "\n".join(lines + [f"> {note}\n" for note in notes])


def write_report(matches: pd.DataFrame, out: str | Path, bootstrap: int = 1000, seed: int = 0) -> list[Path]:
    """Write the leaderboard tables (CSV, Markdown) and all plots (PNG and SVG) into ``out``."""
    from leaderboards import plots

    out = Path(out)
    usable_matches, _ = usable(matches)
    if usable_matches.empty:
        return []
    out.mkdir(parents=True, exist_ok=True)
    per_role = leaderboard(matches, bootstrap=bootstrap, seed=seed)
    h2h = leaderboard(matches, view="head-to-head", by="all", bootstrap=bootstrap, seed=seed)
    metrics = metrics_table(matches)
    per_role.to_csv(out / "leaderboard.csv", index=False)
    h2h.to_csv(out / "leaderboard_head_to_head.csv", index=False)
    metrics.to_csv(out / "metrics.csv", index=False)
    text = "\n".join([
        "# Leaderboard", "",
        _markdown("Ratings within each role (same-role view, Bradley-Terry, 95% cluster-bootstrap intervals)",
                  per_role, per_role.attrs["notes"]),
        _markdown("Head-to-head (focal vs counterpart on one scale)", h2h, h2h.attrs["notes"]),
        "## Metrics", "", metrics.round(3).to_markdown(index=False), ""])
    (out / "leaderboard.md").write_text(text, encoding="utf-8")
    paths = [out / "leaderboard.csv", out / "leaderboard_head_to_head.csv", out / "metrics.csv", out / "leaderboard.md"]
    overall = per_role[per_role["domain"] == "all"]
    for role, table in overall.groupby("role"):
        paths += plots.rating_bars(table, out, f"Bradley-Terry ratings of {role} agents (same-role view)",
                                   name=f"ratings_{role}")
    fights = head_to_head(usable_matches)
    paths += plots.win_rate_heatmap(fights, out)
    paths += plots.utility_distributions(matches, out)
    paths += plots.elo_trajectories(online_elo(fights)[1], out)
    return paths
