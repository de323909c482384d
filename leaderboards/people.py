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
    frames = []
    for kind, other in (("focal", "counterpart"), ("counterpart", "focal")):
        frames.append(pd.DataFrame({
            "domain": matches["domain"].to_numpy(), "scenario": matches["scenario"].to_numpy(),
            "repeat": matches["repeat"].to_numpy(), "role": kind, "agent": matches[f"{kind}_agent"].to_numpy(),
            "opponent": matches[f"{other}_agent"].to_numpy(),
            "person": (matches[f"{kind}_backend"] == PEOPLE_BACKEND).to_numpy(),
            "who": matches["person"].to_numpy() if "person" in matches else None,
            "utility": matches[f"{kind}_utility"].astype(float).to_numpy(),
            "agreed": agreed(matches).to_numpy(float)}))
    return pd.concat(frames, ignore_index=True)


def _person_interval(diffs: pd.DataFrame, resamples: int, rng: np.random.Generator) -> tuple[float, float]:
    """95% percentile interval of the mean difference, resampling people (each person is a cluster)."""
    groups = [g["difference"].to_numpy() for _, g in diffs.groupby("who")]
    if len(groups) < 2:
        return float("nan"), float("nan")
    sums = np.array([g.sum() for g in groups])
    sizes = np.array([len(g) for g in groups])
    picks = rng.integers(len(groups), size=(resamples, len(groups)))
    means = sums[picks].sum(axis=1) / sizes[picks].sum(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


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
    rng = np.random.default_rng(seed)
    rows = []
    for (domain, role, opponent, agent), part in paired.groupby(["domain", "role", "opponent", "agent_agent"]):
        diffs = pd.DataFrame({"who": part["who_person"].to_numpy(),
                              "difference": (part["utility_person"] - part["utility_agent"]).to_numpy()})
        lower, upper = _person_interval(diffs, bootstrap, rng)
        rows.append({"domain": domain, "role": role, "opponent": opponent, "agent": agent, "pairs": len(part),
                     "people": part["who_person"].nunique(), "person_utility": part["utility_person"].mean(),
                     "agent_utility": part["utility_agent"].mean(), "difference": diffs["difference"].mean(),
                     "lower": lower, "upper": upper, "person_agreement": part["agreed_person"].mean(),
                     "agent_agreement": part["agreed_agent"].mean()})
    table = pd.DataFrame(rows, columns=PEOPLE_COLUMNS)
    unpaired = len(people) - people.merge(agents[keys].drop_duplicates(), on=keys).shape[0]
    table.attrs["notes"] = [
        f"{len(people)} finished matches played by {people['who'].nunique()} people; each paired with the agents' "
        "matches in the same role against the same opponent on the same scenario and repeat; difference = person - "
        "agent utility, 95% interval from resampling people (none with fewer than 2 people)"]
    if unpaired:
        table.attrs["notes"].append(f"{unpaired} people's matches have no agents' match to pair with (another "
                                    "scenario, opponent or repeat than the run's)")
    return table
