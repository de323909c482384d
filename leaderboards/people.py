"""People's matches apart from the agents': out of the agents' ratings unless asked, and in a table of
their own that pairs each person's match with the agents' matches on the same scenario and opponent.

A few people must never erase the resolution of thousands of agent matches: a person's handful of
matches against every focal agent's opponent would tie all the agents to one poorly measured player.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from leaderboards.battles import agreed, usable

PEOPLE_BACKEND = "person"  # the backend a person's side of a match records
PEOPLE_COLUMNS = ["domain", "role", "opponent", "agent", "pairs", "people", "person_utility", "agent_utility",
                  "difference", "lower", "upper", "person_agreement", "agent_agreement"]


def played_by_people(matches: pd.DataFrame) -> pd.Series:
    """True for matches in which a person played one side (a ``person`` id, or a side on the person backend)."""
    mask = pd.Series(False, index=matches.index)
    if "person" in matches:
        mask |= matches["person"].notna() & (matches["person"].astype(str) != "")
    for kind in ("focal", "counterpart"):
        if f"{kind}_backend" in matches:
            mask |= matches[f"{kind}_backend"] == PEOPLE_BACKEND
    return mask


def agent_matches(matches: pd.DataFrame, people: bool = False) -> pd.DataFrame:
    """The matches agents' ratings rest on: only agent-against-agent ones, unless ``people`` is True."""
    return matches if people else matches.loc[~played_by_people(matches)]


def _sides(matches: pd.DataFrame) -> pd.DataFrame:
    """One row per (match, role): who played it, against whom, their utility and whether they agreed."""
    deal = agreed(matches).to_numpy(float)
    who = matches["person"].to_numpy() if "person" in matches else np.full(len(matches), None)
    frames = []
    for kind, other in (("focal", "counterpart"), ("counterpart", "focal")):
        frames.append(pd.DataFrame({
            "domain": matches["domain"].to_numpy(), "scenario": matches["scenario"].to_numpy(),
            "repeat": matches["repeat"].to_numpy(), "role": kind, "agent": matches[f"{kind}_agent"].to_numpy(),
            "opponent": matches[f"{other}_agent"].to_numpy(),
            "person": (matches[f"{kind}_backend"] == PEOPLE_BACKEND).to_numpy(), "who": who,
            "utility": matches[f"{kind}_utility"].astype(float).to_numpy(), "agreed": deal}))
    return pd.concat(frames, ignore_index=True)


def _person_intervals(group: np.ndarray, who: np.ndarray, diff: np.ndarray, groups: int, resamples: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per group, the 95% percentile interval of the mean difference resampling people (each person a
    cluster); NaN for groups with fewer than two people."""
    lower, upper = np.full(groups, np.nan), np.full(groups, np.nan)
    for g in range(groups):
        mine = group == g
        people, codes = np.unique(who[mine], return_inverse=True)
        if len(people) < 2:
            continue
        sums = np.bincount(codes, weights=diff[mine])
        sizes = np.bincount(codes).astype(float)
        picks = rng.integers(len(people), size=(resamples, len(people)))
        means = sums[picks].sum(axis=1) / sizes[picks].sum(axis=1)
        lower[g], upper[g] = np.quantile(means, [0.025, 0.975])
    return lower, upper


def people_table(matches: pd.DataFrame, bootstrap: int = 1000, seed: int = 0) -> pd.DataFrame:
    """People against each agent: a person's match is paired with every agent's match in the same role
    against the same opponent on the same scenario and repeat; per (domain, role, opponent, agent) the
    mean utilities, the mean difference person - agent with a 95% interval from resampling people, and
    the agreement rates. ``attrs["notes"]`` says what the table rests on."""
    data, _ = usable(matches)
    sides = _sides(data)
    people, agents = sides[sides["person"]], sides[~sides["person"]]
    keys = ["domain", "scenario", "repeat", "role", "opponent"]
    paired = people.merge(agents, on=keys, suffixes=("_person", "_agent"))
    paired["difference"] = paired["utility_person"] - paired["utility_agent"]
    groups = ["domain", "role", "opponent", "agent_agent"]
    table = paired.groupby(groups, as_index=False).agg(
        pairs=("difference", "size"), people=("who_person", "nunique"), person_utility=("utility_person", "mean"),
        agent_utility=("utility_agent", "mean"), difference=("difference", "mean"),
        person_agreement=("agreed_person", "mean"), agent_agreement=("agreed_agent", "mean"))
    group = paired.groupby(groups).ngroup().to_numpy()  # the row of ``table`` each pair belongs to
    who = pd.factorize(paired["who_person"].astype(str))[0]
    lower, upper = _person_intervals(group, who, paired["difference"].to_numpy(float), len(table), bootstrap,
                                     np.random.default_rng(seed))
    table = table.rename(columns={"agent_agent": "agent"}).assign(lower=lower, upper=upper)
    table = table[PEOPLE_COLUMNS]
    unpaired = len(people) - people.merge(agents[keys].drop_duplicates(), on=keys).shape[0]
    table.attrs["notes"] = [
        f"{len(people)} finished matches played by {people['who'].nunique()} people; each paired with the agents' "
        "matches in the same role against the same opponent on the same scenario and repeat; difference = person - "
        "agent utility, 95% interval from resampling people (none with fewer than 2 people)"]
    if unpaired:
        table.attrs["notes"].append(f"{unpaired} people's matches have no agents' match to pair with (another "
                                    "scenario, opponent or repeat than the run's)")
    return table
