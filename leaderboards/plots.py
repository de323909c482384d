"""Leaderboard plots, each role-correct and captioned with the basis it rests on.

Rating bars per role with their intervals, the focal x counterpart matrix of win rates and mean
utilities, utilities per role, and online Elo within each role. Agents keep one colour, line style
and marker in every figure (seven Okabe-Ito colours, which colour-blind readers tell apart, times
four line styles: 28 agents before a style repeats). Legends sit outside the data. Every figure is
written as PNG, SVG (text kept as text) and PDF, with the caption in the image and its metadata.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from leaderboards.basis import Basis  # noqa: E402
from leaderboards.battles import agreed, head_to_head, same_role, usable  # noqa: E402
from leaderboards.elo import ORDER_NOTE, online_elo  # noqa: E402

ROLES = ("focal", "counterpart")
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")  # yellow left out: faint
LINE_STYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
FORMATS = ("png", "svg", "pdf")
STYLE = {"svg.fonttype": "none", "pdf.fonttype": 42, "font.size": 9, "axes.titlesize": 10}
CAPTION_POINTS = 7
MAX_POINTS = 1500  # points drawn per Elo line: about one per pixel column; the last rating is always kept


def agent_styles(agents: list[str]) -> dict[str, dict[str, object]]:
    """A colour, line style and marker per agent (by sorted name, so one agent looks the same everywhere)."""
    return {name: {"color": OKABE_ITO[i % len(OKABE_ITO)], "linestyle": LINE_STYLES[(i // len(OKABE_ITO)) % 4],
                   "marker": MARKERS[i % len(MARKERS)]} for i, name in enumerate(sorted(set(agents)))}


def _all_agents(matches: pd.DataFrame) -> list[str]:
    return sorted(set(matches["focal_agent"]) | set(matches["counterpart_agent"]))


def _caption(fig: plt.Figure, caption: str) -> None:
    """The caption under everything drawn so far, wrapped to the width of the drawing."""
    renderer = fig.canvas.get_renderer()
    box = fig.get_tightbbox(renderer)
    width, height = fig.get_size_inches()
    chars = max(40, int(box.width * 72 / (0.55 * CAPTION_POINTS)))
    fig.text(box.x0 / width, (box.y0 - 0.08) / height, textwrap.fill(caption, chars), ha="left", va="top",
             fontsize=CAPTION_POINTS, color="#333333")


def _save(fig: plt.Figure, out: Path, name: str, title: str, basis: Basis) -> list[Path]:
    """Write PNG, SVG and PDF with the basis caption drawn and in each file's metadata."""
    caption = basis.caption()
    fig.tight_layout()
    _caption(fig, caption)
    metadata = {"png": {"Title": title, "Description": caption}, "svg": {"Title": title, "Description": caption},
                "pdf": {"Title": title, "Subject": caption}}
    box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(0.1)  # once, not once per format
    paths = []
    for fmt in FORMATS:
        path = out / f"{name}.{fmt}"
        fig.savefig(path, dpi=150, bbox_inches=box, metadata=metadata[fmt])
        paths.append(path)
    plt.close(fig)
    return paths


def rating_bars(table: pd.DataFrame, out: Path, title: str, basis: Basis, name: str = "ratings") -> list[Path]:
    """Ratings of one role as bars from the mean (1000), with their intervals drawn from lower to upper
    (a rating outside its interval, a zero-width or a missing interval is drawn as it is)."""
    data = table.sort_values("rating").reset_index(drop=True)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8, 0.38 * len(data) + 1.8))
        y = np.arange(len(data))
        ax.barh(y, data["rating"] - 1000, left=1000, color="#56B4E9", edgecolor="#0072B2", height=0.6)
        ends = data[["lower", "upper"]].astype(float) if {"lower", "upper"} <= set(data) else None
        if ends is not None:
            ok = ends.notna().all(axis=1).to_numpy()
            ax.hlines(y[ok], ends["lower"][ok], ends["upper"][ok], color="black", lw=1.2)
            for column in ("lower", "upper"):
                ax.plot(ends[column][ok], y[ok], "|", color="black", markersize=8)
        ax.axvline(1000, color="grey", lw=0.8)
        ax.set_yticks(y, data["agent"])
        ax.set_xlabel("Bradley-Terry rating (Elo scale, mean 1000); line: 95% bootstrap interval")
        ax.set_ylabel("agent")
        zero = ends is not None and bool(((ends["upper"] - ends["lower"]).abs() < 1e-6).all())
        ax.set_title(title + ("\n(every interval has zero width: too few scenario clusters to resample)" if zero else ""))
        return _save(fig, out, name, title, basis)


def _matrix(matches: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Focal x counterpart: the focal agent's win rate (draws half) and its mean utility."""
    fights = head_to_head(matches)
    wins = fights.pivot_table(index="a", columns="b", values="score", aggfunc="mean")
    ok, _ = usable(matches)
    utility = ok.pivot_table(index="focal_agent", columns="counterpart_agent", values="focal_utility", aggfunc="mean")
    rows = wins.mean(axis=1).sort_values(ascending=False).index  # strongest focal agent first
    cols = wins.mean(axis=0).sort_values().index  # toughest counterpart first
    return wins.reindex(index=rows, columns=cols), utility.reindex(index=rows, columns=cols)


def _heatmap(ax: plt.Axes, grid: pd.DataFrame, cmap: str, limits: tuple[float, float], label: str) -> None:
    values = grid.to_numpy(float)
    colours = matplotlib.colormaps[cmap].with_extremes(bad="#dddddd")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=colours, vmin=limits[0], vmax=limits[1], aspect="auto")
    size = 7 if grid.shape[1] <= 10 else 6
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            dark = colours((v - limits[0]) / (limits[1] - limits[0] or 1))[:3]
            ink = "white" if sum(dark) < 1.3 else "black"
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=size, color=ink)
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=45, ha="right")
    ax.set_yticks(range(grid.shape[0]), grid.index)
    ax.set_xlabel("counterpart (toughest first)")
    ax.set_ylabel("focal agent (strongest first)")
    plt.colorbar(image, ax=ax, label=label, fraction=0.05, pad=0.02)


def win_rate_matrix(matches: pd.DataFrame, out: Path, basis: Basis) -> list[Path]:
    """Every focal agent against every counterpart: its win rate and its mean utility."""
    wins, utility = _matrix(matches)
    title = "Focal x counterpart: win rate and mean utility of the focal agent"
    with plt.rc_context(STYLE):
        width = 0.55 * wins.shape[1] + 3
        fig, axes = plt.subplots(1, 2, figsize=(2 * width, 0.45 * wins.shape[0] + 2.4))
        _heatmap(axes[0], wins, "RdBu", (0.0, 1.0), "focal win rate (utility ahead by > 0.05; draws half)")
        top = float(np.ceil(10 * np.nanmax(utility.to_numpy(float))) / 10) if utility.notna().any().any() else 1.0
        _heatmap(axes[1], utility, "cividis", (0.0, max(top, 0.1)), "mean focal utility (breakdown = 0)")
        axes[0].set_title("win rate")
        axes[1].set_title("mean utility")
        never = bool(np.isnan(wins.to_numpy(float)).any())
        fig.suptitle(title + ("  (grey: never met)" if never else ""))
        return _save(fig, out, "win_rates", title, basis)


def utility_distributions(matches: pd.DataFrame, out: Path, basis: Basis) -> list[Path]:
    """Utility of the deals each agent made, per role (breakdowns left out: their share is the agreed %)."""
    ok, _ = usable(matches)
    deal = agreed(ok)
    styles = agent_styles(_all_agents(matches))
    title = "Utility per deal, by role (breakdowns excluded: see agreed %)"
    with plt.rc_context(STYLE):
        sizes = [max(ok[f"{kind}_agent"].nunique(), 1) for kind in ROLES]
        fig, axes = plt.subplots(1, 2, figsize=(12, 0.36 * max(sizes) + 2))
        for ax, kind in zip(axes, ROLES):
            data = pd.DataFrame({"agent": ok[f"{kind}_agent"], "utility": ok[f"{kind}_utility"].astype(float),
                                 "agreed": deal})
            rate = data.groupby("agent")["agreed"].mean()
            median = data[data["agreed"]].groupby("agent")["utility"].median().reindex(rate.index)
            labels = median.sort_values(na_position="first").index.tolist()
            boxes = ax.boxplot([data.loc[(data["agent"] == a) & data["agreed"], "utility"].dropna() for a in labels],
                               orientation="horizontal", patch_artist=True, medianprops={"color": "black"},
                               tick_labels=[f"{a}  [agreed {rate[a]:.0%}]" for a in labels])
            for patch, agent in zip(boxes["boxes"], labels):
                patch.set(facecolor=styles[agent]["color"], alpha=0.45)
            ax.set_title(f"{kind} agents")
            ax.set_xlabel("utility of agreed deals (0 = reservation, 1 = target)")
        axes[0].set_ylabel("agent, best median at the top")
        fig.suptitle(title)
        return _save(fig, out, "utilities", title, basis)


def elo_trajectories(matches: pd.DataFrame, out: Path, basis: Basis) -> list[Path]:
    """Online Elo within each role (same-role battles), one line per agent, legend beside each panel."""
    styles = agent_styles(_all_agents(matches))
    title = f"Online Elo within each role (same-role battles; {ORDER_NOTE})"
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(2, 1, figsize=(11, 8.5))
        for ax, kind in zip(axes, ROLES):
            fights = same_role(matches, role=kind)
            if fights.empty:
                ax.text(0.5, 0.5, f"no two {kind} agents met the same opponent", ha="center", transform=ax.transAxes)
                continue
            trajectory = online_elo(fights)[1]
            final = trajectory.groupby("agent")["rating"].last().sort_values(ascending=False)
            for agent in final.index:
                rows = _thinned(trajectory[trajectory["agent"] == agent])
                ax.plot(rows["step"], rows["rating"], lw=1.1, markersize=4, markevery=max(1, len(rows) // 6),
                        label=f"{agent} ({final[agent]:.0f})", **styles[agent])
            ax.set_title(f"{kind} agents")
            ax.set_ylabel("online Elo rating")
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="final rating", frameon=False)
        axes[-1].set_xlabel("same-role battle (two agents of one role against the same opponent on one scenario)")
        fig.suptitle(title, fontsize=10)
        return _save(fig, out, "elo_trajectories", title, basis)


def _thinned(rows: pd.DataFrame) -> pd.DataFrame:
    """At most MAX_POINTS evenly spaced rows, the first and last included (the figure cannot show more)."""
    if len(rows) <= MAX_POINTS:
        return rows
    return rows.iloc[np.unique(np.linspace(0, len(rows) - 1, MAX_POINTS).round().astype(int))]


def close_all() -> None:
    """Close figures a failed plot left open."""
    plt.close("all")
