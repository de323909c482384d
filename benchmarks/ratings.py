"""Bradley-Terry fit + 1,000 cluster-bootstrap resamples on 1,000,000 synthetic matches among 20 agents,
against one fit done the FastChat way (logistic regression on one row per battle), in the same run.

    python benchmarks/ratings.py [--matches 1000000] [--agents 20] [--bootstrap 1000]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from leaderboards.bradley_terry import ELO_SCALE, fit_bradley_terry


def synthetic_battles(n: int, agents: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 0.8, agents)
    a = rng.integers(0, agents, n)
    b = (a + rng.integers(1, agents, n)) % agents
    domain = rng.integers(0, 4, n)
    advantage = np.array([0.3, -0.2, 0.1, 0.0])[domain]
    p = 1 / (1 + np.exp(-(strength[a] - strength[b] + advantage)))
    u = rng.random(n)
    score = np.where(np.abs(u - p) < 0.05, 0.5, (u < p).astype(float))
    names = np.array([f"agent{i:02d}" for i in range(agents)])
    domains = np.array(["credit", "rescue", "hospital", "sleep"])
    scenario = rng.integers(0, 100, n)
    frame = pd.DataFrame({"a": names[a], "b": names[b], "score": score, "group": domains[domain],
                          "cluster": pd.Categorical(domains[domain]).astype(str) + "/" + scenario.astype(str),
                          "order": np.arange(n)})
    return frame, strength


def fastchat_style_fit(battles: pd.DataFrame) -> float:
    """One logistic regression on one row per battle (ties duplicated as a win and a loss), as FastChat does."""
    from sklearn.linear_model import LogisticRegression

    agents = sorted(set(battles["a"]) | set(battles["b"]))
    index = {name: i for i, name in enumerate(agents)}
    a = battles["a"].map(index).to_numpy()
    b = battles["b"].map(index).to_numpy()
    score = battles["score"].to_numpy()
    ties = score == 0.5
    rows_a, rows_b = np.concatenate([a, a[ties]]), np.concatenate([b, b[ties]])
    y = np.concatenate([np.where(ties, 1.0, score), np.zeros(ties.sum())])
    x = np.zeros((len(rows_a), len(agents)), dtype=np.float32)
    x[np.arange(len(rows_a)), rows_a] = 1.0
    x[np.arange(len(rows_a)), rows_b] = -1.0
    start = time.perf_counter()
    LogisticRegression(fit_intercept=False, C=1e6, tol=1e-6, max_iter=200).fit(x, y)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matches", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()
    battles, strength = synthetic_battles(args.matches, args.agents)
    print(f"{args.matches:,} battles, {args.agents} agents, {battles['cluster'].nunique()} scenario clusters, "
          f"{os.cpu_count()} cores")
    start = time.perf_counter()
    result = fit_bradley_terry(battles, bootstrap=args.bootstrap, seed=0, role_advantage=True)
    ours = time.perf_counter() - start
    table = result.table.sort_values("agent")
    truth = 1000 + ELO_SCALE * (strength - strength.mean())
    corr = np.corrcoef(table["rating"], truth)[0, 1]
    print(f"eq-arena Bradley-Terry: fit + {args.bootstrap} bootstrap resamples: {ours:.2f} s "
          f"(correlation with true strengths {corr:.4f})")
    fastchat = fastchat_style_fit(battles)
    print(f"FastChat-style logistic regression, one fit on one row per battle: {fastchat:.2f} s")
    print(f"ratio: one FastChat-style fit / our fit plus {args.bootstrap} resamples = {fastchat / ours:.2f}; "
          f"per fit: {fastchat / (ours / (args.bootstrap + 1)):.0f}x")


if __name__ == "__main__":
    main()
