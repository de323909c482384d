"""How far each agent's numbers are its own: the share of its moves that were fallbacks or guard
rewrites, and why matches errored (cleaned for a terminal, a table or a page)."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from leaderboards.battles import errored

ROLES = ("focal", "counterpart")
# Counters of a match record that mark a move as not the model's own: a reply that never validated
# (the agent's fallback policy moved instead) and the harness guards' rewrites of a move.
REWRITES = ("fallbacks", "clamped_offers", "blocked_accepts", "redactions")
FALLBACK_WARN = 0.20  # above this share of moves, a rating measures the fallback policy, not the model
SHARE_COLUMNS = ["agent", "role", "domain", "moves", "rewritten", "fallback_share"]
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]+")


def moves_of(matches: pd.DataFrame, kind: str) -> pd.Series:
    """Moves made by the agent in role ``kind``: the focal agent moves first, so it has the odd one."""
    rounds = pd.to_numeric(matches["rounds"], errors="coerce")
    return np.ceil(rounds / 2) if kind == "focal" else np.floor(rounds / 2)


def _rewritten(matches: pd.DataFrame, kind: str, moves: pd.Series) -> pd.Series:
    """Fallbacks and guard rewrites in each match, at most one per move (fallbacks also count side
    questions such as emotion labels, and a message may be redacted twice)."""
    total = pd.Series(0.0, index=matches.index)
    for counter in REWRITES:
        if f"{kind}_{counter}" in matches:
            total += pd.to_numeric(matches[f"{kind}_{counter}"], errors="coerce").fillna(0.0)
    return np.minimum(total, moves)


def fallback_share(matches: pd.DataFrame) -> pd.DataFrame:
    """Per agent, role ("both" pools the two) and domain ("all" pools them): moves, moves rewritten
    (fallbacks or guard rewrites) and their share, over the matches that finished."""
    if not {"rounds", "domain"} <= set(matches):
        return pd.DataFrame(columns=SHARE_COLUMNS)
    done = matches.loc[~errored(matches) & matches["rounds"].notna()]
    frames = []
    for kind in ROLES:
        moves = moves_of(done, kind)
        frames.append(pd.DataFrame({"agent": done[f"{kind}_agent"], "role": kind, "domain": done["domain"],
                                    "moves": moves, "rewritten": _rewritten(done, kind, moves)}))
    data = pd.concat(frames, ignore_index=True)
    data = pd.concat([data, data.assign(role="both")], ignore_index=True)
    data = pd.concat([data, data.assign(domain="all")], ignore_index=True)
    table = data.groupby(["agent", "role", "domain"], as_index=False)[["moves", "rewritten"]].sum()
    table["fallback_share"] = table["rewritten"] / table["moves"].where(table["moves"] > 0)
    return table[SHARE_COLUMNS]


def merge_shares(table: pd.DataFrame, shares: pd.DataFrame, agent: str = "agent",
                 column: str = "fallback_share") -> pd.DataFrame:
    """``table`` with the fallback share (from :func:`fallback_share`) of the agent in column ``agent``,
    per role and domain where the table has those columns, pooled where it has not."""
    keys = [agent]
    if "role" in table:
        keys.append("role")
    else:
        shares = shares[shares["role"] == "both"]
    if "domain" in table and set(table["domain"]) <= set(shares["domain"]):
        keys.append("domain")
    else:
        shares = shares[shares["domain"] == "all"]
    lookup = shares.rename(columns={"agent": agent, "fallback_share": column})[keys + [column]]
    merged = table.drop(columns=[column], errors="ignore").merge(lookup, on=keys, how="left")
    if column in table:  # a column already there keeps its place
        merged = merged[list(table.columns) + [c for c in merged if c not in table]]
    merged.attrs = dict(table.attrs)
    return merged


def with_fallback_share(table: pd.DataFrame, matches: pd.DataFrame, agent: str = "agent",
                        column: str = "fallback_share") -> pd.DataFrame:
    """``table`` with the fallback share of the agent in column ``agent`` computed from ``matches``."""
    return merge_shares(table, fallback_share(matches), agent, column)


def flagged(shares: pd.DataFrame, threshold: float = FALLBACK_WARN) -> pd.DataFrame:
    """Agent, role and fallback share (over all domains) of every agent above ``threshold``."""
    over = shares[(shares["domain"] == "all") & (shares["role"] != "both") & (shares["fallback_share"] > threshold)]
    return over[["agent", "role", "fallback_share"]].sort_values(["role", "agent"]).reset_index(drop=True)


def fallback_warning_text(over: pd.DataFrame, threshold: float = FALLBACK_WARN) -> str:
    """The warning for the agents in ``over`` (agent, role, fallback_share); "" when there are none."""
    if over.empty:
        return ""
    named = ", ".join(f"{r.agent} as {r.role} ({r.fallback_share:.0%})" for r in over.itertuples())
    return (f"warning: more than {threshold:.0%} of the moves of {named} were fallbacks or guard rewrites: "
            "their ratings measure the fallback policy, not the model (arena show RUN gives malformed_rate)")


def fallback_warning(matches: pd.DataFrame, threshold: float = FALLBACK_WARN) -> str:
    """A warning naming the agents whose moves were mostly not their model's ("" when none is)."""
    return fallback_warning_text(flagged(fallback_share(matches), threshold), threshold)


def clean_reason(text: object) -> str:
    """An error message as one plain line: terminal escape codes (a Ray header's colours) removed."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    return " ".join(_CONTROLS.sub(" ", _ESCAPES.sub("", str(text))).split())


def error_reasons(matches: pd.DataFrame) -> pd.Series:
    """Why each match errored, cleaned ("" for matches that finished)."""
    if "error" not in matches:
        return pd.Series("", index=matches.index)
    return matches["error"].map(clean_reason).where(errored(matches), "")


def reason_counts(matches: pd.DataFrame) -> pd.Series:
    """Matches per cleaned error reason, most frequent first."""
    reasons = error_reasons(matches)
    return reasons[reasons != ""].value_counts()
