"""What a judge-study participant judges: pairs of one run's transcripts, some shown twice (sides
swapped: consistency) and some with a known better side (attention).

Every pair of the pool is judged by about as many people as every other: the run's pairs are
shuffled once with the study's seed, the first ``pool`` kept (all by default), and participant *i*
takes the ``pairs`` pairs from position ``i * pairs`` on, wrapping round; a pool of P pairs gives each
pair about N * pairs / P raters among N participants (agreement between raters needs two or more). A gold
pair sets a real transcript in which the judged side reached a deal worth at least
``GOLD_MIN_UTILITY`` to it against the same scenario with that side walking away at its first move
(worth 0 to it): the deal is the better outcome for that side whatever the wording.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

import leaderboards
from arena.judging import JudgePair, candidate_pairs
from arena.schedule import derive_seed
from arena.study.spec import StudySpec
from envs import FOCAL

GOLD_MIN_UTILITY = 0.3
GOLD_PREFIX = "gold-walk-away:"  # the match id of a constructed side names the real match it copies
GOLD_AGENT = "walks away at once"
GOLD_MESSAGE = "No. I am not negotiating this. Goodbye."


@dataclass(frozen=True)
class JudgeItem:
    """One counted judgment: a pair, whether it is a first showing, a repeat or a gold pair, and for
    gold the side that is better ("a" or "b")."""

    slot: int
    kind: str  # pair | repeat | gold
    pair: JudgePair
    gold_answer: str | None = None


def pool(matches: pd.DataFrame, study: StudySpec) -> pd.DataFrame:
    """The run's judgeable pairs of agents' matches in an order drawn from the study's seed."""
    pairs = candidate_pairs(leaderboards.agent_matches(matches))
    if pairs.empty:
        return pairs
    pairs = pairs.sort_values(["match_a", "match_b"], ignore_index=True)
    order = np.random.default_rng(derive_seed(study.seed, "judge-pool")).permutation(len(pairs))
    return pairs.iloc[order[: study.judge.pool]].reset_index(drop=True)


def _pair(study: StudySpec, row: pd.Series, swap: bool, pair_seed: int) -> JudgePair:
    first, second = (row["match_a"], row["a"]), (row["match_b"], row["b"])
    if swap:
        first, second = second, first
    return JudgePair(str(study.judge.run), first[0], second[0], first[1], second[1], row["group"], row["domain"],
                     row["scenario"], row["opponent"], pair_seed)


def _gold(study: StudySpec, matches: pd.DataFrame, rng: np.random.Generator, seed: int) -> tuple[JudgePair, str]:
    agents = leaderboards.agent_matches(matches)
    for kind in rng.permutation(["focal", "counterpart"]):
        good = agents[agents["agreement"].astype("boolean").fillna(False).astype(bool)
                      & (agents[f"{kind}_utility"].astype(float) >= GOLD_MIN_UTILITY)]
        if len(good):
            row = good.iloc[int(rng.integers(len(good)))]
            other = "counterpart" if kind == FOCAL else "focal"
            real = (row["match_id"], row[f"{kind}_agent"])
            fake = (GOLD_PREFIX + row["match_id"], GOLD_AGENT)
            first, second, answer = (real, fake, "a") if rng.random() < 0.5 else (fake, real, "b")
            return JudgePair(str(study.judge.run), first[0], second[0], first[1], second[1], kind, row["domain"],
                             row["scenario"], row[f"{other}_agent"], seed), answer
    raise ValueError(f"no match in {study.judge.run} gives a side a deal worth {GOLD_MIN_UTILITY} or more to build "
                     "a gold pair from; set gold = 0")


def items(study: StudySpec, matches: pd.DataFrame, index: int) -> list[JudgeItem]:
    """Participant ``index``'s judgments, in the order shown (recorded seeds make it reproducible)."""
    judge = study.judge
    pairs = pool(matches, study)
    if pairs.empty:
        raise ValueError(f"the run {judge.run} has no judgeable pairs (two agents in the same role against the same "
                         "opponent on the same scenario)")
    seed = derive_seed(study.seed, "judge-participant", index)
    rng = np.random.default_rng(seed)
    rows = [pairs.iloc[(index * judge.pairs + k) % len(pairs)] for k in range(judge.pairs)]
    shown = [JudgeItem(0, "pair", _pair(study, row, bool(rng.random() < 0.5), seed)) for row in rows]
    shown = [shown[i] for i in rng.permutation(len(shown))]
    for item in shown[: judge.repeats]:  # the same pair again, sides swapped, after the first showings
        p = item.pair
        shown.append(JudgeItem(0, "repeat", replace(p, first=p.second, second=p.first, agent_first=p.agent_second,
                                                    agent_second=p.agent_first)))
    for _ in range(judge.gold):
        pair, answer = _gold(study, matches, rng, seed)
        shown.insert(int(rng.integers(len(shown) + 1)), JudgeItem(0, "gold", pair, answer))
    return [replace(item, slot=i) for i, item in enumerate(shown)]


def gold_transcript(real: list[dict[str, Any]], judged: str) -> list[dict[str, Any]]:
    """The constructed side of a gold pair: the judged side walks away at its first move (the focal
    side opens, so a judged counterpart first hears the real match's opening move)."""
    opening = [real[0]] if judged != FOCAL and real else []
    leave = {"role": judged, "move": "walk_away", "value": None, "emotion": "neutral", "sensed": "neutral",
             "message": GOLD_MESSAGE, "guard": []}
    return opening + [leave]


def item_record(item: JudgeItem) -> dict[str, Any]:
    """What a vote adds to arena.judging's vote record for a study."""
    return {"item": item.kind, "slot": item.slot, "gold_answer": item.gold_answer}
