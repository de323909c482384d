"""Which 95% interval for a clustered paired difference covers the truth 95% of the time?

Candidates, all on the same data (per-scenario sums of paired differences, scenarios stratified by
domain as in ``arena compare``):

- percentile: the stratified cluster bootstrap's 2.5/97.5 percentiles (what ``arena compare`` printed before)
- bca: the same bootstrap, bias-corrected and accelerated (jackknife over scenarios)
- bootstrap-t: the studentised bootstrap (each resample's t with its own linearised standard error)
- t: the ratio estimate's linearised standard error with Student's t, Satterthwaite's degrees of
  freedom (``leaderboards.inference.t_interval``, what ``arena compare`` prints now)

Data: (1) simulated nulls with 20 and 80 clusters: symmetric heavy-tailed differences (the shape of
a null between exchangeable agents) and skewed ones with mean 0; (2) real arena nulls: random-emotion
agents with their own random streams against the same scripted counterparts (default response
model), every pair of them, per domain (20 scenarios) and over four domains (80); see
``benchmarks/calibration.py``. Last, the Bradley-Terry rating intervals of ``arena leaderboard``
(percentile bootstrap over scenarios, 1000 resamples) on battles simulated from the model.

    python benchmarks/interval_coverage.py [--datasets 4000] [--resamples 999] [--arena-seeds 2] [--workers 0]
                                           [--rating-trials 100]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from leaderboards.inference import t_interval  # noqa: E402

LEVEL = 0.95
METHODS = ("percentile", "bca", "bootstrap-t", "t")


def stratified_weights(strata: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Multinomial resampling weights (resamples, clusters), scenarios resampled within each domain."""
    weights = np.zeros((resamples, len(strata)))
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        weights[:, members] = rng.multinomial(len(members), np.full(len(members), 1 / len(members)), resamples)
    return weights


def _se(sums: np.ndarray, counts: np.ndarray, weights: np.ndarray, strata: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ratio estimates and linearised standard errors of weighted resamples: sums (D, n), weights (B, n)
    -> (D, B) each."""
    ws, wc = sums @ weights.T, counts @ weights.T                       # (D, B)
    ratio = ws / wc
    z = (sums[:, None, :] - ratio[..., None] * counts[:, None, :]) / wc[..., None]   # (D, B, n)
    variance = np.zeros_like(ratio)
    for stratum in np.unique(strata):
        cols = strata == stratum
        w = weights[:, cols]
        n_h = w.sum(1)                                                 # (B,)
        mean = (z[..., cols] * w).sum(-1) / n_h
        ss = (w * (z[..., cols] - mean[..., None]) ** 2).sum(-1)
        variance += n_h / (n_h - 1) * ss
    return ratio, np.sqrt(variance)


def intervals(sums: np.ndarray, counts: np.ndarray, strata: np.ndarray, resamples: int,
              rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(lower, upper) of each candidate for D datasets at once: sums, counts (D, n)."""
    weights = stratified_weights(strata, resamples, rng)
    tint = t_interval(sums, counts, strata)
    estimate = tint.estimate
    out = {"t": (tint.lower, tint.upper)}
    step = max(1, 2_000_000 // (resamples * sums.shape[1]))
    chunks = [slice(i, i + step) for i in range(0, len(sums), step)]
    boot = np.concatenate([(sums[c] @ weights.T) / (counts[c] @ weights.T) for c in chunks])
    out["percentile"] = tuple(np.percentile(boot, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2], axis=1))
    out["bca"] = _bca(sums, counts, estimate, boot)
    se = np.sqrt(np.where(np.isnan(tint.lower), np.nan, ((tint.upper - tint.lower) / 2 /
                                                         stats.t.ppf(0.5 + LEVEL / 2, tint.df)) ** 2))
    studentised = []
    for c in chunks:
        ratio, se_star = _se(sums[c], counts[c], weights, strata)
        with np.errstate(divide="ignore", invalid="ignore"):  # a resample of identical scenarios has no spread
            studentised.append((ratio - estimate[c, None]) / se_star)
    t_star = np.concatenate(studentised)
    q_low, q_high = np.nanpercentile(t_star, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2], axis=1)
    out["bootstrap-t"] = (estimate - q_high * se, estimate - q_low * se)
    return out


def _bca(sums: np.ndarray, counts: np.ndarray, estimate: np.ndarray, boot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = sums.shape[1]
    z0 = stats.norm.ppf(np.clip((boot < estimate[:, None]).mean(1) + 0.5 * (boot == estimate[:, None]).mean(1),
                                1 / (boot.shape[1] + 1), 1 - 1 / (boot.shape[1] + 1)))
    keep = 1.0 - np.eye(n)
    jack = (sums @ keep) / (counts @ keep)                             # (D, n): leave one scenario out
    d = jack.mean(1, keepdims=True) - jack
    accel = (d ** 3).sum(1) / (6 * ((d ** 2).sum(1)) ** 1.5)
    ends = []
    for q in ((1 - LEVEL) / 2, (1 + LEVEL) / 2):
        zq = z0 + stats.norm.ppf(q)
        level = stats.norm.cdf(z0 + zq / (1 - accel * zq))
        ends.append(np.array([np.percentile(row, 100 * lv) for row, lv in zip(boot, level)]))
    return ends[0], ends[1]


def coverage(sums: np.ndarray, counts: np.ndarray, strata: np.ndarray, truth: float, resamples: int,
             rng: np.random.Generator) -> dict[str, tuple[float, float]]:
    """Share of datasets whose interval contains ``truth``, and the median width, per candidate."""
    result = {}
    for name, (low, high) in intervals(sums, counts, strata, resamples, rng).items():
        ok = ~np.isnan(low)
        result[name] = (float(np.mean((low[ok] <= truth) & (truth <= high[ok]))), float(np.median(high[ok] - low[ok])))
    return result


def simulated(shape: str, datasets: int, clusters: int, domains: int, pairs: int, rng: np.random.Generator):
    """Null datasets (truth 0): per-cluster sums of ``pairs`` paired differences; clusters differ in
    their spread (some scenarios are noisier), domains in their mean spread."""
    n = clusters * domains
    strata = np.repeat(np.arange(domains), clusters)
    spread = rng.gamma(2.0, 0.5, size=(datasets, n)) * (1 + np.arange(domains))[strata] / domains
    if shape == "symmetric":   # exchangeable agents: differences symmetric about 0, heavy tails
        noise = rng.standard_t(3, size=(datasets, n, pairs)) / np.sqrt(3)
    else:                      # skewed with mean 0: exponential minus its mean
        noise = rng.exponential(1.0, size=(datasets, n, pairs)) - 1.0
    sums = (spread[..., None] * noise).sum(-1) * 0.05
    counts = np.full((datasets, n), float(pairs))
    return sums, counts, strata


def report(title: str, result: dict[str, tuple[float, float]], count: int) -> None:
    se = np.sqrt(LEVEL * (1 - LEVEL) / count)
    cells = ", ".join(f"{m} {result[m][0]:.3f}" for m in METHODS)
    print(f"{title:<58} n={count:<5} {cells}   (binomial SE {se:.3f})")


STRENGTHS = np.array([1.2, 0.6, 0.0, -0.4, -1.4])  # natural-log scale, as in tests/test_leaderboards.py


def rating_coverage(trials: int, clusters: int, battles: int, resamples: int) -> tuple[float, float]:
    """Bradley-Terry's percentile intervals (``arena leaderboard``): share covering the true rating, over
    agents and trials of synthetic battles from the model itself, spread over ``clusters`` scenarios."""
    from leaderboards.bradley_terry import ELO_SCALE, fit_bradley_terry

    covered, shown = [], []
    truth = 1000 + ELO_SCALE * (STRENGTHS - STRENGTHS.mean())
    names = np.array([f"agent{i}" for i in range(len(STRENGTHS))])
    for trial in range(trials):
        rng = np.random.default_rng(trial)
        a = rng.integers(0, len(names), battles)
        b = (a + rng.integers(1, len(names), battles)) % len(names)
        cluster = rng.integers(0, clusters, battles)
        score = (rng.random(battles) < 1 / (1 + np.exp(-(STRENGTHS[a] - STRENGTHS[b])))).astype(float)
        table = fit_bradley_terry(pd.DataFrame({"a": names[a], "b": names[b], "score": score, "group": "g",
                                                "cluster": cluster.astype(str), "order": np.arange(battles).astype(str),
                                                "domain": "d"}), resamples, seed=trial, role_advantage=False).table
        table = table.set_index("agent").loc[names]
        ok = table["lower"].notna().to_numpy()
        shown.append(ok.mean())
        covered += list(((table["lower"] <= truth) & (truth <= table["upper"])).to_numpy()[ok])
    return float(np.mean(covered)), float(np.mean(shown))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=4000)
    parser.add_argument("--resamples", type=int, default=999)
    parser.add_argument("--arena-seeds", type=int, default=2, help="arena runs for the real nulls (0: none)")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--rating-trials", type=int, default=100, help="synthetic tournaments for the rating intervals")
    args = parser.parse_args()
    start = time.perf_counter()
    rng = np.random.default_rng(2024)
    print(f"coverage of 95% intervals (goal 0.95 +- 0.02): {', '.join(METHODS)}")
    for shape in ("symmetric", "skewed"):
        for clusters, domains in ((20, 1), (20, 4)):
            sums, counts, strata = simulated(shape, args.datasets, clusters, domains, 12, rng)
            report(f"simulated {shape} null, {clusters * domains} clusters ({domains} domain(s))",
                   coverage(sums, counts, strata, 0.0, args.resamples, rng), args.datasets)
    if args.arena_seeds:
        from calibration import arena_nulls

        for label, (sums, counts, strata) in arena_nulls(args.arena_seeds, args.workers).items():
            report(f"arena null, {label}", coverage(sums, counts, strata, 0.0, args.resamples, rng), len(sums))
    for clusters in (20, 80):
        if args.rating_trials:
            share, shown = rating_coverage(args.rating_trials, clusters, 40 * clusters, 1000)
            print(f"Bradley-Terry percentile interval, {clusters} clusters, 5 agents: coverage {share:.3f} "
                  f"({args.rating_trials} trials, {shown:.0%} of ratings with an interval)")
    print(f"{args.resamples} bootstrap resamples; {time.perf_counter() - start:.0f} s on a shared, loaded machine")


if __name__ == "__main__":
    main()
