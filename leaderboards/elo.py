"""Online Elo. Order-dependent by nature: the order used is reported with the ratings."""
from __future__ import annotations

import numpy as np
import pandas as pd

ORDER_NOTE = "order-dependent: battles in match-id order within each domain, domains interleaved"
ELO_RANK_RULE = ("Elo rank = the order of the final online rating (1 = highest); online Elo has no interval, so two "
                 "ranks apart may not be a real difference: see the Bradley-Terry table (--method bt)")


def interleaved(battles: pd.DataFrame) -> pd.DataFrame:
    """Battles in match-id order within each domain, the domains interleaved evenly, so that the
    final ratings (which mostly remember the latest battles) reflect every domain, not the last one."""
    ordered = battles.sort_values("order", kind="stable")
    if "domain" not in ordered or ordered["domain"].nunique() < 2:
        return ordered
    position = ordered.groupby("domain").cumcount() + 0.5
    share = position / ordered.groupby("domain")["order"].transform("size")
    key = pd.DataFrame({"share": share.to_numpy(), "domain": ordered["domain"].to_numpy()})
    return ordered.iloc[np.lexsort((key["domain"].to_numpy(), key["share"].to_numpy()))]


def online_elo(battles: pd.DataFrame, k: float = 16.0, initial: float = 1000.0,
               shuffle_seed: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ratings after playing battles in order (see :func:`interleaved`, or shuffled with a seed);
    draws are half a win. Returns the final table and the trajectory (step, agent, rating)."""
    order = interleaved(battles)
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
    table["order"] = f"order-dependent: shuffled (seed {shuffle_seed})" if shuffle_seed is not None else ORDER_NOTE
    return table, pd.DataFrame(trajectory, columns=["step", "agent", "rating"])
