"""Ratings from people's blind pairwise votes on transcripts, with the same Bradley-Terry code.

A vote compares two agents that played the same role against the same opponent on the same
scenario; it says which did better for its side ("a", "b" or "tie"), and optionally which was more
persuasive. Each criterion and role is rated apart; clusters are scenarios, as for match battles.
"""
from __future__ import annotations

import pandas as pd

from leaderboards.bradley_terry import RANK_RULE, fit_bradley_terry
from leaderboards.compare import MIN_CLUSTERS

CRITERIA = ("outcome", "persuasive")
VOTE_COLUMNS = ("vote_id", "person", "domain", "scenario", "role", "opponent", "agent_a", "agent_b", "outcome",
                "persuasive")
SCORES = {"a": 1.0, "b": 0.0, "tie": 0.5}


def vote_battles(votes: pd.DataFrame, criterion: str = "outcome") -> pd.DataFrame:
    """One battle per vote that answers ``criterion`` (a skipped optional question is no battle)."""
    if criterion not in CRITERIA:
        raise ValueError(f"unknown criterion {criterion!r}; choose one of {', '.join(CRITERIA)}")
    missing = [c for c in VOTE_COLUMNS if c not in votes]
    if missing:
        raise ValueError(f"the votes table lacks the column(s) {', '.join(missing)}")
    answered = votes[votes[criterion].isin(list(SCORES))]
    return pd.DataFrame({
        "a": answered["agent_a"].to_numpy(), "b": answered["agent_b"].to_numpy(),
        "score": answered[criterion].map(SCORES).to_numpy(float), "group": answered["role"].to_numpy(),
        "cluster": (answered["domain"] + "/" + answered["scenario"]).to_numpy(),
        "order": answered["vote_id"].to_numpy(), "domain": answered["domain"].to_numpy()})


def vote_leaderboard(votes: pd.DataFrame, bootstrap: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Ratings with 95% cluster-bootstrap intervals per criterion and role; ``attrs["notes"]`` says
    how many votes and people they rest on."""
    tables, fit_notes = [], []
    for criterion in CRITERIA:
        fights = vote_battles(votes, criterion)
        for role, part in fights.groupby("group"):
            fitted = fit_bradley_terry(part, bootstrap, seed, role_advantage=False)
            tables.append(fitted.table.assign(criterion=criterion, role=role, votes=len(part),
                                              clusters=part["cluster"].nunique()))
            fit_notes += [f"{criterion}, {role}: {note}" for note in fitted.notes]
    columns = ["criterion", "role", "rank", "agent", "rating", "lower", "upper", "battles", "votes", "clusters"]
    result = pd.concat(tables, ignore_index=True)[columns] if tables else pd.DataFrame(columns=columns)
    people = votes["person"].nunique() if len(votes) else 0
    result.attrs["notes"] = [f"{len(votes)} blind votes from {people} people; Bradley-Terry per criterion and role, "
                             "95% intervals from resampling scenarios", RANK_RULE] + fit_notes
    if len(result) and int(result["clusters"].min()) < MIN_CLUSTERS:
        result.attrs["notes"].append(f"warning: fewer than {MIN_CLUSTERS} scenarios judged in some rating; the intervals "
                                     "understate the uncertainty")
    return result
