"""Online Elo. Order-dependent by nature: the order used is reported with the ratings."""
from __future__ import annotations

import numpy as np
import pandas as pd


def online_elo(battles: pd.DataFrame, k: float = 16.0, initial: float = 1000.0,
               shuffle_seed: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ratings after playing battles in match-id order (or shuffled with a seed); draws are half a win.

    Returns the final table and the trajectory (one row per battle: step, agent, rating).
    """
    order = battles.sort_values("order", kind="stable")
    if shuffle_seed is not None:
        order = order.sample(frac=1.0, random_state=np.random.RandomState(shuffle_seed))
    ratings: dict[str, float] = {}
    trajectory = []
    for step, (a, b, score) in enumerate(order[["a", "b", "score"]].itertuples(index=False, name=None)):
        ra, rb = ratings.setdefault(a, initial), ratings.setdefault(b, initial)
        expected = 1.0 / (1.0 + 10 ** ((rb - ra) / 400.0))
        delta = k * (score - expected)
        ratings[a], ratings[b] = ra + delta, rb - delta
        trajectory.append((step, a, ratings[a]))
        trajectory.append((step, b, ratings[b]))
    table = pd.DataFrame(sorted(ratings.items(), key=lambda kv: -kv[1]), columns=["agent", "rating"])
    table["rank"] = np.arange(1, len(table) + 1)
    table["order"] = "shuffled (seed %d)" % shuffle_seed if shuffle_seed is not None else "match-id order"
    return table, pd.DataFrame(trajectory, columns=["step", "agent", "rating"])
