"""Bradley-Terry maximum likelihood with ties and a per-group (role) advantage, with cluster bootstrap.

Ties count as half a win and half a loss (as in FastChat). Battles are aggregated to win/draw/loss
counts per (cluster, pair, group); a bootstrap replicate resamples clusters with replacement, which
only reweights those counts, and all replicates are fitted at once by a batched Newton method.
Ratings are reported on the Elo scale: 400 * log10(strength ratio), centred on 1000.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

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
    """Ratings (Elo scale), 95% bootstrap intervals, interval-respecting ranks and group advantages."""

    table: pd.DataFrame
    advantages: pd.DataFrame
    replicates: np.ndarray


def _to_elo(theta: np.ndarray, n_agents: int) -> np.ndarray:
    ratings = theta[..., :n_agents]
    return 1000.0 + ELO_SCALE * (ratings - ratings.mean(axis=-1, keepdims=True))


def interval_ranks(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """1 + the number of agents whose lower bound lies above this agent's upper bound."""
    return 1 + (lower[None, :] > upper[:, None]).sum(axis=1)


def fit_bradley_terry(battles: pd.DataFrame, bootstrap: int = 1000, seed: int = 0,
                      role_advantage: bool = True, chunk: int = 250) -> BTResult:
    """Fit on all battles, then on ``bootstrap`` cluster resamples for 95% intervals."""
    agg = aggregate(battles)
    design = _design(agg, role_advantage)
    full = fit_counts(design, agg.wins.sum(0, keepdims=True), agg.losses.sum(0, keepdims=True))[0]
    rng = np.random.default_rng(seed)
    n_clusters, reps = agg.wins.shape[0], []
    for start in range(0, bootstrap, chunk):
        size = min(chunk, bootstrap - start)
        weights = rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=size).astype(float)
        reps.append(fit_counts(design, weights @ agg.wins, weights @ agg.losses))
    replicates = np.concatenate(reps) if reps else np.empty((0, design.shape[1]))
    n = len(agg.agents)
    elo = _to_elo(full, n)
    boot = _to_elo(replicates, n) if len(replicates) else np.tile(elo, (1, 1))
    lower, upper = np.percentile(boot, 2.5, axis=0), np.percentile(boot, 97.5, axis=0)
    counts = np.bincount(agg.pair_a, agg.wins.sum(0) + agg.losses.sum(0), n) + \
        np.bincount(agg.pair_b, agg.wins.sum(0) + agg.losses.sum(0), n)
    table = pd.DataFrame({"agent": agg.agents, "rating": elo, "lower": lower, "upper": upper,
                          "rank": interval_ranks(lower, upper), "battles": counts.astype(int)})
    adv = pd.DataFrame({"group": agg.groups if role_advantage else [],
                        "advantage": ELO_SCALE * full[n:] if role_advantage else []})
    return BTResult(table.sort_values(["rank", "rating"], ascending=[True, False]).reset_index(drop=True), adv, boot)
