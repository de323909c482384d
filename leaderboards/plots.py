"""Leaderboard plots: rating bars with intervals, pairwise win rates, utility distributions, Elo over time."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def _save(fig: plt.Figure, out: Path, name: str) -> list[Path]:
    paths = [out / f"{name}.png", out / f"{name}.svg"]
    fig.tight_layout()
    for path in paths:
        fig.savefig(path, dpi=130)
    plt.close(fig)
    return paths


def rating_bars(table: pd.DataFrame, out: Path, title: str, name: str = "ratings") -> list[Path]:
    data = table.sort_values("rating")
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(data) + 1.5))
    err = np.vstack([data["rating"] - data["lower"], data["upper"] - data["rating"]])
    ax.barh(data["agent"], data["rating"] - 1000, left=1000, xerr=err, color="#4C72B0", ecolor="black",
            capsize=3, label="Bradley-Terry rating (95% bootstrap interval)")
    ax.axvline(1000, color="grey", lw=0.8)
    ax.set_xlabel("rating (Elo scale, mean = 1000)")
    ax.set_ylabel("agent")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, out, name)


def win_rate_heatmap(battles: pd.DataFrame, out: Path) -> list[Path]:
    both = pd.concat([battles[["a", "b", "score"]],
                      battles.rename(columns={"a": "b", "b": "a"}).assign(score=lambda d: 1 - d["score"])[["a", "b", "score"]]])
    grid = both.pivot_table(index="a", columns="b", values="score", aggfunc="mean")
    fig, ax = plt.subplots(figsize=(0.6 * len(grid.columns) + 3, 0.5 * len(grid) + 2))
    cmap = matplotlib.colormaps["RdBu"].with_extremes(bad="#bbbbbb")  # grey: pairs that never met
    image = ax.imshow(np.ma.masked_invalid(grid.to_numpy(float)), cmap=cmap, vmin=0, vmax=1)
    ax.set_xticks(range(len(grid.columns)), grid.columns, rotation=45, ha="right")
    ax.set_yticks(range(len(grid.index)), grid.index)
    ax.set_xlabel("opponent")
    ax.set_ylabel("agent")
    ax.set_title("Pairwise win rate (draws count half; grey: never met)")
    fig.colorbar(image, ax=ax, label="win rate of row agent")
    return _save(fig, out, "win_rates")


def utility_distributions(matches: pd.DataFrame, out: Path) -> list[Path]:
    rows = []
    for kind in ("focal", "counterpart"):
        ok = matches[matches["error"].isna()] if "error" in matches else matches
        rows.append(pd.DataFrame({"agent": ok[f"{kind}_agent"] + f" ({kind})", "utility": ok[f"{kind}_utility"]}))
    data = pd.concat(rows).dropna()
    labels = sorted(data["agent"].unique())
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(labels) + 1.5))
    ax.boxplot([data.loc[data["agent"] == a, "utility"] for a in labels], orientation="horizontal", tick_labels=labels)
    ax.set_xlabel("utility (0 = reservation, 1 = target)")
    ax.set_ylabel("agent (role)")
    ax.set_title("Utility per match")
    return _save(fig, out, "utilities")


def elo_trajectories(trajectory: pd.DataFrame, out: Path) -> list[Path]:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for agent, rows in trajectory.groupby("agent"):
        ax.plot(rows["step"], rows["rating"], label=agent, lw=1)
    ax.set_xlabel("battle (match-id order)")
    ax.set_ylabel("online Elo rating")
    ax.set_title("Online Elo, head-to-head (order-dependent: domains interleaved)")
    ax.legend(fontsize=7, ncol=2, loc="best")
    return _save(fig, out, "elo_trajectories")
