"""Which people's votes are rated, and how far raters agree.

Votes that fail a study's checks are dropped and counted by reason, as Chatbot Arena counts what it
leaves out: a rater who misjudges pairs with a known better side (gold pairs) or contradicts
themselves on pairs shown twice loses every vote; a vote faster than the minimum time, or a second
vote by one rater on one pair, is dropped alone; gold and repeated showings are checks, never rated.
Agreement between raters is Krippendorff's alpha (ordinal: one side better, about the same, the
other side better) over the pairs two or more raters judged, from the ``krippendorff`` package.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ORDER = {"a": 2.0, "tie": 1.0, "b": 0.0}  # the first side's outcome, ordered
DROPPED_COLUMNS = ["reason", "votes", "raters"]


@dataclass(frozen=True)
class VoteRules:
    """A study's checks; ``excluded`` names raters dropped for reasons found elsewhere (attention items)."""

    min_gold_accuracy: float = 1.0
    max_repeat_flips: float = 0.5
    min_seconds: float = 0.0
    excluded: dict[str, str] = field(default_factory=dict)


def raters(votes: pd.DataFrame) -> pd.Series:
    """Who cast each vote: the study participant, else the anonymous browser session."""
    if "participant" in votes:
        return votes["participant"].fillna(votes["person"]).astype(str)
    return votes["person"].astype(str)


def pair_keys(votes: pd.DataFrame) -> pd.Series:
    """The same pair whichever side was shown first."""
    low = np.minimum(votes["match_a"].astype(str), votes["match_b"].astype(str))
    high = np.maximum(votes["match_a"].astype(str), votes["match_b"].astype(str))
    return pd.Series(low + "|" + high, index=votes.index)


def oriented(votes: pd.DataFrame) -> pd.Series:
    """Each outcome as seen from the side whose match id sorts first (2 better, 1 same, 0 worse)."""
    value = votes["outcome"].map(ORDER).astype(float)
    flipped = votes["match_a"].astype(str) > votes["match_b"].astype(str)
    return value.where(~flipped, 2.0 - value)


def _items(votes: pd.DataFrame) -> pd.Series:
    return votes["item"].fillna("pair") if "item" in votes else pd.Series("pair", index=votes.index)


def _bad_raters(votes: pd.DataFrame, who: pd.Series, items: pd.Series, rules: VoteRules) -> dict[str, str]:
    """Raters whose every vote goes: named by the caller, failed gold pairs, inconsistent on repeats."""
    bad = dict(rules.excluded)
    gold = votes[items == "gold"]
    if len(gold):
        accuracy = (gold["outcome"] == gold["gold_answer"]).groupby(who.loc[gold.index]).mean()
        for rater in accuracy[accuracy < rules.min_gold_accuracy].index:
            bad.setdefault(rater, f"failed gold pairs (fewer than {rules.min_gold_accuracy:.0%} right)")
    repeats = votes[items == "repeat"]
    if len(repeats):
        first = votes[items == "pair"].assign(rater=who, key=pair_keys(votes), value=oriented(votes))
        again = repeats.assign(rater=who, key=pair_keys(votes), value=oriented(votes))
        both = again.merge(first.drop_duplicates(["rater", "key"]), on=["rater", "key"], suffixes=("", "_first"))
        flips = (both["value"] != both["value_first"]).groupby(both["rater"]).mean()
        for rater in flips[flips > rules.max_repeat_flips].index:
            bad.setdefault(rater, f"inconsistent on repeated pairs (more than {rules.max_repeat_flips:.0%} changed)")
    return bad


def drop_reasons(votes: pd.DataFrame, rules: VoteRules | None = None) -> pd.Series:
    """Why each vote is not rated ("" for the votes that are)."""
    rules = rules or VoteRules()
    who, items = raters(votes), _items(votes)
    bad = _bad_raters(votes, who, items, rules)
    reasons = who.map(lambda rater: bad.get(rater, "")).astype(object)
    checks = {"gold": "gold pair (an attention check, never rated)",
              "repeat": "repeated pair (a consistency check, never rated)"}
    reasons = reasons.where(reasons != "", items.map(lambda kind: checks.get(kind, "")))
    if rules.min_seconds > 0 and "seconds" in votes:
        fast = votes["seconds"].astype(float) < rules.min_seconds
        reasons = reasons.where((reasons != "") | ~fast, f"faster than {rules.min_seconds:g} s")
    open_votes = reasons == ""
    again = pd.DataFrame({"rater": who, "key": pair_keys(votes)})[open_votes].duplicated()
    return reasons.where(~again.reindex(votes.index, fill_value=False),
                         "a second vote by the same rater on the same pair")


def vote_quality(votes: pd.DataFrame, rules: VoteRules | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the votes to rate, what was dropped: reason, votes and raters per reason)."""
    reasons = drop_reasons(votes, rules)
    who = raters(votes)
    dropped = [{"reason": reason, "votes": int(mask.sum()), "raters": int(who[mask].nunique())}
               for reason in sorted(set(reasons) - {""}) for mask in [reasons == reason]]
    return votes[reasons == ""], pd.DataFrame(dropped, columns=DROPPED_COLUMNS)


def rater_agreement(votes: pd.DataFrame) -> dict[str, float | int]:
    """Krippendorff's alpha (ordinal) over pairs judged by two or more raters, with what it rests on;
    alpha is NaN when no pair has two raters or every rating is the same."""
    import krippendorff

    if votes.empty:
        return {"alpha": float("nan"), "pairs": 0, "raters": 0, "ratings": 0}
    data = pd.DataFrame({"rater": raters(votes), "key": pair_keys(votes), "value": oriented(votes)})
    counts = data.groupby("key")["rater"].nunique()
    shared = data[data["key"].isin(counts[counts >= 2].index)]
    out = {"alpha": float("nan"), "pairs": int(len(counts[counts >= 2])), "raters": int(shared["rater"].nunique()),
           "ratings": int(len(shared))}
    if out["pairs"] == 0 or shared["value"].nunique() < 2:
        return out
    matrix = shared.pivot_table(index="rater", columns="key", values="value", aggfunc="first")
    out["alpha"] = float(krippendorff.alpha(reliability_data=matrix.to_numpy(float), level_of_measurement="ordinal",
                                            value_domain=[0.0, 1.0, 2.0]))
    return out


def agreement_note(stats: dict[str, float | int]) -> str:
    if stats["pairs"] == 0:
        return "agreement between raters: no pair was judged by two raters yet (Krippendorff's alpha needs them)"
    alpha = "undefined (every rating the same)" if np.isnan(stats["alpha"]) else f"{stats['alpha']:.3f}"
    return (f"agreement between raters: Krippendorff's alpha (ordinal) {alpha} over {stats['pairs']} pairs judged by "
            f"two or more of {stats['raters']} raters ({stats['ratings']} ratings)")
