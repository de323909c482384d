"""Bradley-Terry maximum likelihood with ties and a per-group (role) advantage, with cluster bootstrap.

Ties count as half a win and half a loss (as in FastChat). Battles are aggregated to win/draw/loss
counts per (cluster, pair, group); a bootstrap replicate resamples clusters with replacement, which
only reweights those counts, and all replicates are fitted at once by a batched Newton method.
Ratings are reported on the Elo scale: 400 * log10(strength ratio), centred on 1000.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from leaderboards.separation import beaten, connected, separation

ELO_SCALE = 400.0 / np.log(10.0)
RIDGE = 1e-4  # keeps the problem identifiable (ratings are only defined up to a shift)


@dataclass
class Aggregated:
    """Battle counts: per cluster (rows) and distinct (a, b, group) pair (columns)."""

    agents: list[str]
    groups: list[str]
    pair_a: np.ndarray
    pair_b: np.ndarray
    pair_group: np.ndarray
    wins: np.ndarray    # clusters x pairs: first-side score mass (win + half draw)
    losses: np.ndarray  # clusters x pairs: second-side score mass


def aggregate(battles: pd.DataFrame) -> Aggregated:
    """Count score mass per (cluster, pair): integer codes only, so a million battles take well under a second."""
    agents = sorted(set(battles["a"]) | set(battles["b"]))
    a_codes = pd.Categorical(battles["a"], categories=agents).codes.astype(np.int64)
    b_codes = pd.Categorical(battles["b"], categories=agents).codes.astype(np.int64)
    g_codes, groups = pd.factorize(battles["group"], sort=True)
    cluster_codes, _ = pd.factorize(battles["cluster"])
    key = (a_codes * len(agents) + b_codes) * len(groups) + g_codes
    pair_codes, pair_keys = pd.factorize(key)
    score = battles["score"].to_numpy(float)
    n_pairs = len(pair_keys)
    flat = cluster_codes * n_pairs + pair_codes
    size = (cluster_codes.max() + 1) * n_pairs
    wins = np.bincount(flat, weights=score, minlength=size).reshape(-1, n_pairs)
    losses = np.bincount(flat, weights=1.0 - score, minlength=size).reshape(-1, n_pairs)
    pair_keys = np.asarray(pair_keys)
    return Aggregated(agents, [str(g) for g in groups], pair_keys // len(groups) // len(agents),
                      pair_keys // len(groups) % len(agents), pair_keys % len(groups), wins, losses)


def _design(agg: Aggregated, use_groups: bool) -> np.ndarray:
    n, g, pairs = len(agg.agents), len(agg.groups) if use_groups else 0, len(agg.pair_a)
    design = np.zeros((pairs, n + g))
    rows = np.arange(pairs)
    design[rows, agg.pair_a] += 1.0
    design[rows, agg.pair_b] -= 1.0
    if use_groups:
        design[rows, n + agg.pair_group] = 1.0
    return design


def fit_counts(design: np.ndarray, wins: np.ndarray, losses: np.ndarray, iterations: int = 30) -> np.ndarray:
    """Newton's method for a batch of replicates: wins/losses are (B, pairs); returns (B, params)."""
    batch, params = wins.shape[0], design.shape[1]
    theta = np.zeros((batch, params))
    total = wins + losses
    outer = np.einsum("pi,pj->pij", design, design).reshape(len(design), -1)
    ridge = RIDGE * np.eye(params)
    for _ in range(iterations):
        prob = 1.0 / (1.0 + np.exp(-(theta @ design.T)))
        grad = (wins - total * prob) @ design - RIDGE * theta
        curvature = total * prob * (1.0 - prob)
        hessian = (curvature @ outer).reshape(batch, params, params) + ridge
        step = np.linalg.solve(hessian, grad[..., None])[..., 0]
        theta += step
        if np.abs(step).max() < 1e-8:
            break
    return theta


@dataclass
class BTResult:
    """Ratings (Elo scale), 95% bootstrap intervals (NaN where the data cannot support one), ranks by
    the interval rule, group advantages and ``notes`` saying why an interval or rating is n/a."""

    table: pd.DataFrame
    advantages: pd.DataFrame
    replicates: np.ndarray
    notes: list[str] = field(default_factory=list)


RANK_RULE = ("rank = 1 + the number of agents whose 95% interval lies wholly above this agent's (FastChat's rule): "
             "agents whose intervals overlap share a rank, so one with a wide interval can rank above one with a higher "
             "rating; an agent without an interval (n/a) overlaps every other; an agent that won (lost) every battle ranks "
             "above (below) the rest without a rating")


def _to_elo(theta: np.ndarray, n_agents: int, centre: np.ndarray | None = None) -> np.ndarray:
    """Ratings on the Elo scale, centred on 1000 over the agents in ``centre`` (default all)."""
    ratings = theta[..., :n_agents]
    centre = np.ones(n_agents, bool) if centre is None else centre
    return 1000.0 + ELO_SCALE * (ratings - ratings[..., centre].mean(axis=-1, keepdims=True))


def interval_ranks(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """1 + the number of agents whose lower bound lies above this agent's upper bound (NaN bounds: NaN rank,
    and such an agent counts for nobody)."""
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    above = np.where(np.isnan(lower), -np.inf, lower)[None, :] > upper[:, None]
    return np.where(np.isnan(lower) | np.isnan(upper), np.nan, 1.0 + above.sum(axis=1))


def _bootstrap(agg: Aggregated, design: np.ndarray, bootstrap: int, seed: int, chunk: int,
               main: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Replicate fits and, per replicate, whether the main group's ratings are all finite in it."""
    rng = np.random.default_rng(seed)
    n_clusters, reps, ok = agg.wins.shape[0], [], []
    for start in range(0, bootstrap, chunk):
        size = min(chunk, bootstrap - start)
        weights = rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=size).astype(float)
        wins, losses = weights @ agg.wins, weights @ agg.losses
        reps.append(fit_counts(design, wins, losses))
        ok.append(connected(beaten(agg, wins, losses), main))
    if not reps:
        return np.empty((0, design.shape[1])), np.empty(0, bool)
    return np.concatenate(reps), np.concatenate(ok)


LEVEL = 0.95


def _separation_notes(side: np.ndarray, agents: list[str]) -> list[str]:
    names = np.asarray(agents)
    says = {1.0: "won every battle against the others (or beat only agents that did)",
            -1.0: "lost every battle against the others (or lost only to agents that did)"}
    notes = [f"rating n/a for {', '.join(names[side == s])}: {why}, so Bradley-Terry gives no finite rating"
             for s, why in says.items() if (side == s).any()]
    if np.isnan(side).any():
        notes.append(f"rating n/a for {', '.join(names[np.isnan(side)])}: no chain of battles links them to the others")
    return notes


def _intervals(elo: np.ndarray, boot: np.ndarray, ok: np.ndarray, side: np.ndarray,
               agents: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Percentile intervals where the resamples support one; NaN and a note saying why elsewhere."""
    main, none = side == 0, np.full(len(elo), np.nan)
    notes = _separation_notes(side, agents)
    if not len(boot):
        return none, none, notes + ["no bootstrap resamples: no intervals"]
    if 1 - ok.mean() > (1 - LEVEL) / 2:
        return none, none, notes + [
            f"intervals n/a: in {1 - ok.mean():.0%} of the {len(ok)} resamples of scenarios some agent won or lost "
            "every battle it played, so its resampled rating is unbounded: too few battles for a 95% interval"]
    lo, hi = np.percentile(boot[ok], [50 * (1 - LEVEL), 50 * (1 + LEVEL)], axis=0)
    bad = main & ((elo < lo) | (elo > hi) | (hi - lo < 1e-6))
    if bad.any():
        notes.append(f"interval n/a for {', '.join(np.asarray(agents)[bad])}: the resampled ratings are all the same "
                     "or do not contain the rating itself, so a percentile interval would read as certainty")
    if (~ok).any():
        notes.append(f"{int((~ok).sum())} of {len(ok)} resamples in which an agent won or lost every battle were "
                     "left out of the intervals")
    keep = main & ~bad
    return np.where(keep, lo, np.nan), np.where(keep, hi, np.nan), notes


def _ranks(lower: np.ndarray, upper: np.ndarray, side: np.ndarray) -> np.ndarray:
    """The interval rule, with agents that won (lost) everything above (below) every rated agent; an
    agent without an interval overlaps every rated one; an agent never linked to the others has no rank."""
    unknown = np.isnan(lower) & (side == 0)
    lo = np.where(side == 1, np.inf, np.where(side == -1, -np.inf, np.where(unknown, -1e300, lower)))
    hi = np.where(side == 1, np.inf, np.where(side == -1, -np.inf, np.where(unknown, 1e300, upper)))
    return interval_ranks(lo, hi)


def fit_bradley_terry(battles: pd.DataFrame, bootstrap: int = 1000, seed: int = 0,
                      role_advantage: bool = True, chunk: int = 250) -> BTResult:
    """Fit on all battles, then on ``bootstrap`` cluster resamples for 95% intervals. Agents that won or
    lost every battle against the rest have no finite rating (n/a); intervals are n/a where too many
    resamples separate the agents, or where the interval would not contain the rating."""
    agg = aggregate(battles)
    design = _design(agg, role_advantage)
    full = fit_counts(design, agg.wins.sum(0, keepdims=True), agg.losses.sum(0, keepdims=True))[0]
    n = len(agg.agents)
    side = separation(beaten(agg, agg.wins.sum(0), agg.losses.sum(0)))
    main = side == 0
    replicates, ok = _bootstrap(agg, design, bootstrap, seed, chunk, main)
    elo = _to_elo(full, n, main)
    boot = _to_elo(replicates, n, main)
    lower, upper, notes = _intervals(elo, boot, ok, side, agg.agents)
    counts = np.bincount(agg.pair_a, agg.wins.sum(0) + agg.losses.sum(0), n) + \
        np.bincount(agg.pair_b, agg.wins.sum(0) + agg.losses.sum(0), n)
    table = pd.DataFrame({"agent": agg.agents, "rating": np.where(main, elo, np.nan), "lower": lower, "upper": upper,
                          "rank": pd.array(_ranks(lower, upper, side), dtype="Int64"), "battles": counts.astype(int)})
    adv = pd.DataFrame({"group": agg.groups if role_advantage else [],
                        "advantage": ELO_SCALE * full[n:] if role_advantage else []})
    table = table.assign(_order=np.where(main, elo, np.where(side == 1, np.inf, -np.inf))).sort_values(
        ["rank", "_order"], ascending=[True, False], na_position="last").drop(columns="_order").reset_index(drop=True)
    return BTResult(table, adv, boot, notes)
