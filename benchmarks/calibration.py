"""How well ``arena compare`` is calibrated on independent nulls: the sign-flip test's false-positive
rate, the 95% interval's coverage, and power for planted edges, at 20 and 80 scenario clusters.

Null agents: K copies of random-emotion, each drawing its emotions from its own random stream (the
parameter ``stream`` of the benchmark's ``random-emotion-stream``), against the same scripted
counterparts (four personas, default response model, so an emotion moves a counterpart's
concessions). Two copies differ by chance only (true difference 0) while scenarios and the
counterparts' own draws are shared, as in a real paired comparison. Per run (seed):

- disjoint pairs null0 - null1, null2 - null3, ... are independent comparisons; ``arena compare`` puts
  them in its primary family (80 clusters: 4 domains x 20 test scenarios) and per-domain family
  (20 clusters each). Rejections at alpha (unadjusted and Holm family-wise) and coverage of 0.
- every pair of copies (dependent comparisons, more of them): rejections and coverage again.
- power: the disjoint comparisons with an edge added to A's utility in every match (an exact planted
  edge on real arena noise): the share significant (Holm within its family) with a positive difference.

Scripted backend, default response model.

    python benchmarks/calibration.py [--seeds 6] [--copies 16] [--workers 0]
"""
from __future__ import annotations

import argparse
import itertools
import tempfile
import time

import numpy as np
import pandas as pd

import leaderboards
from agents import AgentSpec
from agents.builtin.emotional import RandomEmotion
from agents.registry import register
from arena.runner import run_tournament
from arena.spec import TournamentSpec
from leaderboards.compare import Clustered, paired_units

PERSONAS = ["vanilla-counterpart", "cheating", "threatening", "victim"]
DOMAINS = ["credit", "rescue", "hospital", "sleep"]
EDGES = (0.005, 0.01, 0.02)


@register("random-emotion-stream", source="benchmarks/calibration.py")
class StreamRandomEmotion(RandomEmotion):
    """random-emotion with its own random stream: copies with different ``stream`` draw independently."""

    name = "random-emotion-stream"
    parameters = {"stream": "which random stream this copy draws its emotions from"}

    def reset(self, view, role, seed):
        super().reset(view, role, seed)
        self.rng = np.random.default_rng([seed, int(self.params.get("stream", 0))])


def null_run(seed: int, copies: int, workers: int, repeats: int = 1) -> pd.DataFrame:
    agents = [AgentSpec("random-emotion-stream", {"stream": i}, label=f"null{i}") for i in range(copies)]
    spec = TournamentSpec(agents=agents + [AgentSpec(p) for p in PERSONAS], domains=DOMAINS, split="test",
                          repeats=repeats, seed=seed, workers=workers)
    with tempfile.TemporaryDirectory() as out:
        return run_tournament(spec, out)


def disjoint(copies: int) -> list[tuple[str, str]]:
    return [(f"null{i}", f"null{i + 1}") for i in range(0, copies - 1, 2)]


def every_pair(copies: int) -> list[tuple[str, str]]:
    return [(f"null{i}", f"null{j}") for i, j in itertools.combinations(range(copies), 2)]


def planted(matches: pd.DataFrame, agents: set[str], edge: float) -> pd.DataFrame:
    """The same matches with ``edge`` added to the utility of ``agents`` (in the focal role)."""
    shifted = matches.copy()
    mask = shifted["focal_agent"].isin(agents)
    shifted.loc[mask, "focal_utility"] = shifted.loc[mask, "focal_utility"] + edge
    return shifted


def rows_of(result: pd.DataFrame, seed: int, design: str, edge: float) -> pd.DataFrame:
    return result.assign(seed=seed, design=design, edge=edge)[
        ["seed", "design", "edge", "family", "family_size", "clusters", "difference", "lower", "upper", "p",
         "significant"]]


def collect(seeds: int, copies: int, workers: int, alpha: float) -> pd.DataFrame:
    frames = []
    for seed in range(seeds):
        matches = null_run(seed, copies, workers)
        pairs = disjoint(copies)
        frames.append(rows_of(leaderboards.compare(matches, pairs, ("utility",), seed=seed, alpha=alpha), seed,
                              "disjoint", 0.0))
        frames.append(rows_of(leaderboards.compare(matches, every_pair(copies), ("utility",), seed=seed, alpha=alpha),
                              seed, "every pair", 0.0))
        for edge in EDGES:
            shifted = planted(matches, {a for a, _ in pairs}, edge)
            frames.append(rows_of(leaderboards.compare(shifted, pairs, ("utility",), seed=seed, alpha=alpha), seed,
                                  "disjoint", edge))
    return pd.concat(frames, ignore_index=True)


def summary(rows: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """One line per design, edge and cluster count: rejections, family-wise rate, coverage, power."""
    out = []
    for (design, edge, family), part in rows.groupby(["design", "edge", "family"], sort=False):
        families = part.groupby("seed")["significant"].any()
        covered = (part["lower"] <= part["edge"]) & (part["edge"] <= part["upper"])
        out.append({"design": design, "edge": edge, "clusters": int(part["clusters"].median()),
                    "family": f"{family} (m={int(part['family_size'].iloc[0])})", "comparisons": len(part),
                    f"p<{alpha}": (part["p"] < alpha).mean(),
                    "family-wise (Holm)": families.mean() if edge == 0 else np.nan,
                    "coverage": covered.mean(), "median width": (part["upper"] - part["lower"]).median(),
                    "power (Holm, d>0)": (part["significant"] & (part["difference"] > 0)).mean() if edge else np.nan})
    return pd.DataFrame(out).sort_values(["clusters", "design", "edge"], kind="stable")


def arena_nulls(seeds: int, workers: int, copies: int = 16) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Scenario totals of every null pair (benchmarks/interval_coverage.py): per domain (20 clusters)
    and over the four domains (80), as (sums, counts, strata) with one row per comparison."""
    per_domain, pooled = [], []
    for seed in range(seeds):
        matches = null_run(10_000 + seed, copies, workers)
        for a, b in every_pair(copies):
            units = paired_units(matches, a, b, "focal")
            whole = Clustered.of_metrics(units, ("utility",))["utility"]
            pooled.append((whole.sums, whole.counts, whole.strata))
            for d in range(len(DOMAINS)):
                keep = whole.strata == d
                per_domain.append((whole.sums[keep], whole.counts[keep], np.zeros(keep.sum(), int)))
    stack = {f"{len(per_domain[0][0])} clusters (one domain)": per_domain,
             f"{len(pooled[0][0])} clusters ({len(DOMAINS)} domains)": pooled}
    return {label: (np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows]), rows[0][2])
            for label, rows in stack.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6, help="arena runs (each: copies x 4 personas x 80 scenarios)")
    parser.add_argument("--copies", type=int, default=16, help="null agents per run (an even number)")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--alpha", type=float, default=0.05)
    args = parser.parse_args()
    start = time.perf_counter()
    rows = collect(args.seeds, args.copies, args.workers, args.alpha)
    table = summary(rows, args.alpha)
    pd.set_option("display.width", 200)
    print(table.round(4).to_string(index=False, na_rep="-"))
    print(f"{args.seeds} runs x {args.copies} null copies of random-emotion with their own streams vs "
          f"{len(PERSONAS)} personas, {len(DOMAINS)} domains x 20 test scenarios, 1 repeat; 'disjoint' comparisons "
          "are independent, 'every pair' share agents; edges are added to A's utility in every match; "
          f"alpha {args.alpha}; 95% t-intervals; scripted backend, default response model; "
          f"{time.perf_counter() - start:.0f} s on a shared, loaded machine")


if __name__ == "__main__":
    main()
