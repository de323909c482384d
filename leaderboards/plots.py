"""Leaderboard plots: rating bars with intervals, pairwise win rates, utility distributions, Elo over time."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from leaderboards.battles import agreed  # noqa: E402


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
    order = grid.mean(axis=1).sort_values(ascending=False).index  # strongest first
    grid = grid.reindex(index=order, columns=[c for c in order if c in grid.columns])
    fig, ax = plt.subplots(figsize=(0.7 * len(grid.columns) + 3, 0.55 * len(grid) + 2))
    cmap = matplotlib.colormaps["RdBu"].with_extremes(bad="#bbbbbb")  # grey: pairs that never met
    values = grid.to_numpy(float)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if abs(v - 0.5) > 0.3 else "black")
    ax.set_xticks(range(len(grid.columns)), grid.columns, rotation=45, ha="right")
    ax.set_yticks(range(len(grid.index)), grid.index)
    ax.set_xlabel("opponent")
    ax.set_ylabel("agent (strongest first)")
    ax.set_title("Head-to-head win rate (draws count half; grey: never met)")
    fig.colorbar(image, ax=ax, label="win rate of row agent")
    return _save(fig, out, "win_rates")


def utility_distributions(matches: pd.DataFrame, out: Path) -> list[Path]:
    """Utility of the deals each agent made (breakdowns left out, their share given as the agreement rate)."""
    ok = matches[matches["error"].isna()] if "error" in matches else matches
    deal = agreed(ok)
    rows = []
    for kind in ("focal", "counterpart"):
        rows.append(pd.DataFrame({"agent": ok[f"{kind}_agent"] + f" ({kind})", "utility": ok[f"{kind}_utility"],
                                  "agreed": deal}))
    data = pd.concat(rows).dropna(subset=["utility"])
    summary = data.groupby("agent").agg(rate=("agreed", "mean"))
    summary["median"] = data[data["agreed"]].groupby("agent")["utility"].median()
    labels = summary.sort_values("median", na_position="first").index.tolist()
    fig, ax = plt.subplots(figsize=(10, 0.38 * len(labels) + 1.6))
    ax.boxplot([data.loc[(data["agent"] == a) & data["agreed"], "utility"] for a in labels], orientation="horizontal",
               tick_labels=[f"{a}  [agreed {summary.loc[a, 'rate']:.0%}]" for a in labels])
    ax.set_xlabel("utility of agreed deals (0 = reservation, 1 = target)")
    ax.set_ylabel("agent (role), best median at the top")
    ax.set_title("Utility per deal (breakdowns excluded: see agreed %)")
    return _save(fig, out, "utilities")


def elo_trajectories(trajectory: pd.DataFrame, out: Path) -> list[Path]:
    final = trajectory.groupby("agent")["rating"].last().sort_values(ascending=False)
    colours = matplotlib.colormaps["tab20"].resampled(max(len(final), 1))
    fig, ax = plt.subplots(figsize=(10, 5))
    for i, agent in enumerate(final.index):
        rows = trajectory[trajectory["agent"] == agent]
        ax.plot(rows["step"], rows["rating"], label=f"{agent} ({final[agent]:.0f})", lw=1, color=colours(i))
    ax.set_xlabel("battle (match-id order within each domain, domains interleaved)")
    ax.set_ylabel("online Elo rating")
    ax.set_title("Online Elo, head-to-head (order-dependent)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="final rating")
    return _save(fig, out, "elo_trajectories")
