"""Negotiation metrics per agent and role."""
from __future__ import annotations

import pandas as pd

from leaderboards.battles import errored
from leaderboards.health import fallback_share, merge_shares


def metrics_table(matches: pd.DataFrame) -> pd.DataFrame:
    """Per agent and role: agreement rate, utility, savings, the EmoDistill utility, rounds, welfare,
    distance to the Nash point, malformed-reply rate, the share of moves that were fallbacks or guard
    rewrites, and errors."""
    rows = []
    for kind in ("focal", "counterpart"):
        side = pd.DataFrame({
            "agent": matches[f"{kind}_agent"], "role": kind, "domain_role": matches[f"{kind}_role"],
            "error": errored(matches),
            "agreement": matches["agreement"].astype("boolean"), "utility": matches[f"{kind}_utility"],
            "savings": matches[f"{kind}_savings"], "rounds": matches["rounds"],
            "welfare": matches["social_welfare"], "nash_distance": matches["nash_distance"],
            "malformed": matches.get(f"{kind}_malformed", 0), "requests": matches.get(f"{kind}_requests", 0)})
        rows.append(side)
    data = pd.concat(rows, ignore_index=True)
    ok = data[~data["error"]]
    grouped = ok.groupby(["agent", "role"])
    table = pd.DataFrame({
        "matches": grouped.size(),
        "agreement_rate": grouped["agreement"].mean().astype(float),
        "mean_utility": grouped["utility"].mean(),
        "mean_savings": grouped["savings"].mean(),
        "mean_rounds": grouped["rounds"].mean(),
        "social_welfare": grouped["welfare"].mean(),
        "nash_distance": grouped["nash_distance"].mean(),
        "malformed_rate": grouped["malformed"].sum() / grouped["requests"].sum().where(lambda s: s > 0),
    })
    table["emodistill_utility"] = table["agreement_rate"] * table["mean_savings"].fillna(0.0)
    every = data.groupby(["agent", "role"]).size().index  # an agent whose every match errored is listed too
    table = table.reindex(every)
    table["matches"] = table["matches"].fillna(0).astype(int)
    table["errors"] = data[data["error"]].groupby(["agent", "role"]).size().reindex(every).fillna(0).astype(int)
    columns = ["matches", "agreement_rate", "mean_utility", "mean_savings", "emodistill_utility", "mean_rounds",
               "social_welfare", "nash_distance", "malformed_rate", "errors"]
    table = merge_shares(table[columns].reset_index(), fallback_share(matches))
    return table[["agent", "role"] + columns[:-1] + ["fallback_share", "errors"]]
