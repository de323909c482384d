"""When does Bradley-Terry give finite ratings? Only where every agent both took and gave up score
against the others (Zermelo; Ford 1957): the "took score from" graph must be strongly connected.

An agent that won every battle against the rest has a rating of +infinity relative to them (the
ridge only makes it a large, arbitrary number); one that lost every battle has -infinity. These
functions find such agents in the data and in each bootstrap resample (vectorised over resamples).
"""
from __future__ import annotations

import numpy as np


def beaten(agg, wins: np.ndarray, losses: np.ndarray) -> np.ndarray:
    """(..., n, n) booleans: agent i took some score (a win or half a draw) from agent j."""
    n = len(agg.agents)
    first, second = np.eye(n)[agg.pair_a], np.eye(n)[agg.pair_b]          # (pairs, n)
    took = (first.T * wins[..., None, :]) @ second + (second.T * losses[..., None, :]) @ first
    return took > 0


def reachable(took: np.ndarray) -> np.ndarray:
    """Transitive closure (with the diagonal) of a batch of directed graphs (..., n, n)."""
    n = took.shape[-1]
    reach = took | np.eye(n, dtype=bool)
    while True:
        wider = (reach.astype(np.float32) @ reach.astype(np.float32)) > 0
        if (wider == reach).all():
            return reach
        reach = wider


def separation(took: np.ndarray) -> np.ndarray:
    """Per agent: 0 in the main group (the largest set of agents that all reach one another, so their
    ratings are finite relative to each other), +1 above it (beat it, never beaten back), -1 below it,
    NaN never linked to it."""
    reach = reachable(took)
    mutual = reach & reach.T
    anchor = int(np.argmax(mutual.sum(1)))
    into, out_of = reach[:, anchor], reach[anchor, :]
    side = np.where(into & out_of, 0.0, np.where(into, 1.0, np.where(out_of, -1.0, np.nan)))
    return side


def connected(took: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Per graph of the batch: do the ``members`` all reach one another (finite ratings among them)?"""
    reach = reachable(took)[..., members, :][..., members]
    return (reach & np.swapaxes(reach, -1, -2)).all(axis=(-1, -2))
