"""From a match table to battles: head-to-head (with a role-advantage group) or same-role comparisons."""
from __future__ import annotations

import numpy as np
import pandas as pd

BATTLE_COLUMNS = ["a", "b", "score", "group", "cluster", "order", "domain"]
VIEWS = ("head-to-head", "same-role")


def errored(matches: pd.DataFrame) -> pd.Series:
    """True for matches that carry an error (abandoned ones too); none without an error column."""
    if "error" not in matches:
        return pd.Series(False, index=matches.index)
    return matches["error"].notna() & (matches["error"].astype(str) != "")


def usable(matches: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Matches that finished (errored ones are excluded and counted)."""
    failed = errored(matches)
    return matches.loc[~failed].copy(), int(failed.sum())


def agreed(matches: pd.DataFrame) -> pd.Series:
    """True for matches that ended in a deal (a missing value, as in errored matches, is no deal)."""
    return matches["agreement"].astype("boolean").fillna(False).astype(bool)


def abandoned(matches: pd.DataFrame) -> pd.Series:
    """True for matches a person walked away from (kept out of ratings like errored ones, counted apart)."""
    return matches["ended_by"] == "abandoned"


def _score(diff: np.ndarray, margin: float) -> np.ndarray:
    """1 when the first side wins by more than the margin, 0 when it loses by more, else 0.5."""
    return np.where(diff > margin, 1.0, np.where(diff < -margin, 0.0, 0.5))


def head_to_head(matches: pd.DataFrame, margin: float = 0.05) -> pd.DataFrame:
    """Each match is a battle focal vs counterpart; a breakdown is a draw. Group = the domain, whose
    role advantage the rating model estimates."""
    m, _ = usable(matches)
    diff = m["focal_utility"].to_numpy(float) - m["counterpart_utility"].to_numpy(float)
    diff = np.where(m["agreement"].astype(bool).to_numpy(), diff, 0.0)
    return pd.DataFrame({
        "a": m["focal_agent"].to_numpy(), "b": m["counterpart_agent"].to_numpy(), "score": _score(diff, margin),
        "group": m["domain"].to_numpy(), "cluster": (m["domain"] + "/" + m["scenario"]).to_numpy(),
        "order": m["match_id"].to_numpy(), "domain": m["domain"].to_numpy()})


def same_role(matches: pd.DataFrame, margin: float = 0.05, role: str | None = None) -> pd.DataFrame:
    """Agents that played the same role against the same opponent on the same scenario and repeat,
    compared by their utilities (as Chatbot Arena compares two models on one prompt)."""
    m, _ = usable(matches)
    frames = []
    for kind, other in (("focal", "counterpart"), ("counterpart", "focal")):
        if role not in (None, kind):
            continue
        side = m[["match_id", "domain", "scenario", "repeat", f"{kind}_agent", f"{other}_agent", f"{kind}_utility"]]
        side.columns = ["match_id", "domain", "scenario", "repeat", "agent", "opponent", "utility"]
        pairs = side.merge(side, on=["domain", "scenario", "repeat", "opponent"], suffixes=("_a", "_b"))
        pairs = pairs[pairs["agent_a"] < pairs["agent_b"]]
        frames.append(pd.DataFrame({
            "a": pairs["agent_a"].to_numpy(), "b": pairs["agent_b"].to_numpy(),
            "score": _score(pairs["utility_a"].to_numpy(float) - pairs["utility_b"].to_numpy(float), margin),
            "group": kind, "cluster": (pairs["domain"] + "/" + pairs["scenario"]).to_numpy(),
            "order": (pairs["match_id_a"] + "|" + pairs["match_id_b"]).to_numpy(),
            "domain": pairs["domain"].to_numpy()}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=BATTLE_COLUMNS)


def battles(matches: pd.DataFrame, view: str = "head-to-head", margin: float = 0.05) -> pd.DataFrame:
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    return head_to_head(matches, margin) if view == "head-to-head" else same_role(matches, margin)
