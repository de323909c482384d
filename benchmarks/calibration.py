"""How well ``leaderboards.compare`` is calibrated: false positives on nulls, power on planted edges,
and how much narrower paired intervals are than unpaired ones on the same run.

(a) Null comparisons. Within one run, agents that behave identically under other names (and, under
    the ``flat`` response model, emotion-only variants of vanilla) differ by exactly zero thanks to
    common random numbers. For a null with noise, each agent of a run with seed s is compared with
    vanilla from a run with seed s + 1 on the same coordinates (independent random numbers, zero
    true difference). Goal: at most 5% of comparisons significant at alpha = 0.05 after Holm.
(b) Power. vanilla with a concession exponent lowered until it gains about 0.02 and 0.05 utility
    (chosen on a calibration seed), compared with vanilla on the default test split, 3 repeats, one
    run per seed: the share of runs in which the planted edge is significant (Holm over the run).
(c) Interval width: paired cluster bootstrap against an unpaired one (A's and B's scenarios resampled
    independently) for the planted comparisons.

Scripted backend; results follow the response model (flat for (a), default for (b) and (c)).

    python benchmarks/calibration.py [--seeds 11] [--power-seeds 20] [--workers 0]
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import pandas as pd

import leaderboards
from agents import AgentSpec
from arena.runner import run_tournament
from arena.spec import TournamentSpec

PERSONAS = ["vanilla-counterpart", "cheating", "threatening", "victim"]
DOMAINS = ["credit", "rescue", "hospital", "sleep"]
NULL_AGENTS = [AgentSpec("vanilla"), AgentSpec("vanilla", label="vanilla-copy"),
               AgentSpec("fixed-emotion", {"emotion": "anger"}, label="anger"),
               AgentSpec("fixed-emotion", {"emotion": "joy"}, label="joy"),
               AgentSpec("random-emotion")]


def tournament(agents: list[AgentSpec], seed: int, response_model: str, workers: int, repeats: int = 3) -> pd.DataFrame:
    spec = TournamentSpec(agents=agents + [AgentSpec(p) for p in PERSONAS], domains=DOMAINS, split="test",
                          repeats=repeats, seed=seed, workers=workers, response_model=response_model)
    with tempfile.TemporaryDirectory() as out:
        return run_tournament(spec, out)


def renamed(table: pd.DataFrame, suffix: str) -> pd.DataFrame:
    """The focal agents of ``table`` under new names (their opponents keep theirs, so units still pair)."""
    return table.assign(focal_agent=table["focal_agent"] + suffix)


def null_calibration(seeds: int, workers: int, alpha: float) -> None:
    tables = [tournament(NULL_AGENTS, seed, "flat", workers) for seed in range(seeds)]
    labels = [a.display_name for a in NULL_AGENTS]
    exact = leaderboards.compare(tables[0], [(x, "vanilla") for x in labels if x != "vanilla"], ("utility",),
                                 bootstrap=200)
    print(f"(a) within one run (common random numbers, flat): {len(exact)} comparisons, "
          f"{int((exact['difference'] != 0).sum())} non-zero differences, {int(exact['significant'].sum())} significant")
    families = []
    for s in range(seeds - 1):
        pooled = pd.concat([tables[s], renamed(tables[s + 1], "@next")], ignore_index=True)
        families.append(leaderboards.compare(pooled, [(x, "vanilla@next") for x in labels], ("utility",),
                                             bootstrap=200, seed=s, alpha=alpha))
    rows = pd.concat(families, ignore_index=True)
    raw = float((rows["p"] < alpha).mean())
    holm = float(rows["significant"].mean())
    family = float(np.mean([f["significant"].any() for f in families]))
    print(f"    across seeds (independent random numbers, true difference 0): {len(rows)} comparisons in "
          f"{len(families)} families of {len(families[0])}")
    print(f"    rejected at alpha={alpha}: unadjusted {raw:.3f}, Holm-adjusted {holm:.3f} per comparison, "
          f"family-wise {family:.3f}  (goal <= {alpha})")
    print(f"    mean |difference| {rows['difference'].abs().mean():.4f}, median interval width "
          f"{(rows['upper'] - rows['lower']).median():.4f}")


# Focal-only stand-ins for vanilla (a neutral fixed-emotion agent behaves exactly as vanilla does, see
# tests/test_trustworthy.py), so the variants do not also play the counterpart role.
BASELINE = AgentSpec("fixed-emotion", {"emotion": "neutral"}, label="vanilla")


def firm(exponent: float, label: str) -> AgentSpec:
    """Vanilla's neutral messages with another concession exponent (lower: holds out longer)."""
    return AgentSpec("fixed-emotion", {"emotion": "neutral", "exponent": exponent}, label=label)


def overall(result: pd.DataFrame) -> pd.DataFrame:
    return result[(result["domain"] == "all") & (result["opponent"] == "all") & (result["role"] == "focal")].set_index("agent")


TARGETS = (0.005, 0.01, 0.02, 0.05)


def choose_exponents(workers: int, targets=TARGETS) -> dict[float, float]:
    """Exponents whose vanilla variant gains about each target utility over vanilla (calibration seed)."""
    grid = [0.58, 0.56, 0.54, 0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1]
    table = tournament([BASELINE] + [firm(e, f"e{e}") for e in grid], 10_000, "default", workers)
    result = leaderboards.compare(table, [(f"e{e}", "vanilla") for e in grid], ("utility",), bootstrap=100)
    edge = overall(result)["difference"]
    return {t: min(grid, key=lambda e: abs(edge[f"e{e}"] - t)) for t in targets} | \
        {("edge", e): float(edge[f"e{e}"]) for e in grid}


def unpaired_width(matches: pd.DataFrame, a: str, b: str, resamples: int, rng: np.random.Generator) -> float:
    """Width of the 95% interval of mean(A) - mean(B) when A's and B's scenarios are resampled independently."""
    draws = np.zeros(resamples)
    for sign, agent in ((1.0, a), (-1.0, b)):
        part = matches[matches["focal_agent"] == agent]
        sums = part.groupby(["domain", "scenario"])["focal_utility"].agg(["sum", "size"])
        strata = pd.factorize(sums.index.get_level_values(0))[0]
        weights = np.zeros((resamples, len(sums)))
        for stratum in np.unique(strata):
            members = np.flatnonzero(strata == stratum)
            weights[:, members] = rng.multinomial(len(members), np.full(len(members), 1 / len(members)), resamples)
        draws += sign * (weights @ sums["sum"].to_numpy()) / (weights @ sums["size"].to_numpy())
    low, high = np.percentile(draws, [2.5, 97.5])
    return float(high - low)


def power(power_seeds: int, workers: int, alpha: float) -> None:
    chosen = choose_exponents(workers)
    planted = {t: chosen[t] for t in TARGETS}
    for t, e in planted.items():
        print(f"(b) planted edge {t}: vanilla with exponent {e} (edge {chosen[('edge', e)]:+.4f} on the calibration seed)")
    agents = [BASELINE] + [firm(e, f"edge-{t}") for t, e in planted.items()]
    found = {t: [] for t in planted}
    per_domain = {t: [] for t in planted}
    widths = []
    rng = np.random.default_rng(0)
    for seed in range(power_seeds):
        table = tournament(agents, seed, "default", workers)
        result = leaderboards.compare(table, [(f"edge-{t}", "vanilla") for t in planted], ("utility",),
                                      bootstrap=500, seed=seed, alpha=alpha)
        rows = overall(result)
        domains = result[(result["domain"] != "all") & (result["opponent"] == "all") & (result["role"] == "focal")]
        for t in planted:
            part = domains[domains["agent"] == f"edge-{t}"]
            per_domain[t] += list(part["significant"] & (part["difference"] > 0))
            row = rows.loc[f"edge-{t}"]
            found[t].append(bool(row["significant"] and row["difference"] > 0))
            widths.append((row["upper"] - row["lower"], unpaired_width(table, f"edge-{t}", "vanilla", 500, rng)))
    for t in planted:
        print(f"    power for {t}: all domains {np.mean(found[t]):.2f} ({sum(found[t])} of {power_seeds} runs), "
              f"one domain {np.mean(per_domain[t]):.2f} ({sum(per_domain[t])} of {len(per_domain[t])})")
    print(f"    (4 domains x 20 test scenarios x 4 personas x 3 repeats per run; Holm over the run's {len(result)} "
          f"comparisons)")
    paired, unpaired = np.array(widths).T
    print(f"(c) 95% interval width of the planted differences (all domains): paired {paired.mean():.4f}, "
          f"unpaired {unpaired.mean():.4f}, ratio unpaired/paired {unpaired.mean() / paired.mean():.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=11, help="runs for the null comparisons (200 per 11)")
    parser.add_argument("--power-seeds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--alpha", type=float, default=0.05)
    args = parser.parse_args()
    start = time.perf_counter()
    null_calibration(args.seeds, args.workers, args.alpha)
    power(args.power_seeds, args.workers, args.alpha)
    print(f"scripted backend, response model flat for (a) and default for (b, c); {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
