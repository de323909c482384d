"""Rating tables: agents ranked within a role (default) or head-to-head, overall and per domain.

The default, same-role view compares agents only with agents of the same role on the same
scenario, opponent and repeat, so the two roles never share a scale. Head-to-head rates focal
against counterpart; its notes say how the two roles are tied together.
"""
from __future__ import annotations

import pandas as pd

from leaderboards.battles import VIEWS, agreed, head_to_head, same_role, usable
from leaderboards.bradley_terry import RANK_RULE, fit_bradley_terry
from leaderboards.compare import MIN_BOOTSTRAP, MIN_CLUSTERS, ROLES
from leaderboards.elo import ELO_RANK_RULE, ORDER_NOTE, online_elo

METHODS = ("bt", "elo")
SCOPES = (None, "domain", "all", "role")  # None: overall and per domain; "role" is the legacy name of "all"
MIN_BOOTSTRAP_ALLOWED = 100


def _scopes(battles: pd.DataFrame, by: str | None) -> list[tuple[str, pd.DataFrame]]:
    """Overall and per domain; with one domain the overall table is that domain's, shown once."""
    parts = [("all", battles)] if by in (None, "all", "role") else []
    if by == "domain" or (by is None and battles["domain"].nunique() > 1):
        parts += [(str(d), part) for d, part in battles.groupby("domain")]
    return parts


def agreement_rates(matches: pd.DataFrame) -> pd.DataFrame:
    """Agreement rate per agent, role ("both" pools the two) and domain ("all" pools the domains)."""
    frames = []
    for kind in ROLES:
        frames.append(pd.DataFrame({"agent": matches[f"{kind}_agent"], "role": kind, "domain": matches["domain"],
                                    "agreed": agreed(matches).astype(float)}))
    data = pd.concat(frames, ignore_index=True)
    data = pd.concat([data, data.assign(role="both")], ignore_index=True)
    data = pd.concat([data, data.assign(domain="all")], ignore_index=True)
    return data.groupby(["agent", "role", "domain"], as_index=False)["agreed"].mean().rename(
        columns={"agreed": "agreement_rate"})


def _rate(battles: pd.DataFrame, method: str, bootstrap: int, seed: int, k: float,
          advantage: bool) -> tuple[pd.DataFrame, list[str]]:
    """One rating table and the notes on its n/a ratings and intervals."""
    if method == "bt":
        result = fit_bradley_terry(battles, bootstrap, seed, role_advantage=advantage)
        return result.table.assign(clusters=battles["cluster"].nunique()), result.notes
    return online_elo(battles, k=k)[0], []


def _battle_sets(matches: pd.DataFrame, view: str, margin: float) -> list[tuple[str, pd.DataFrame]]:
    if view == "same-role":
        return [(kind, same_role(matches, margin, role=kind)) for kind in ROLES]
    return [("both", head_to_head(matches, margin))]


def leaderboard(matches: pd.DataFrame, method: str = "bt", view: str = "same-role", by: str | None = None,
                margin: float = 0.05, bootstrap: int = 1000, seed: int = 0, k: float = 16.0) -> pd.DataFrame:
    """Ratings per role (same-role view) or head-to-head, overall ("all") and per domain (``by=None``),
    only per domain (``by="domain"``) or only overall (``by="all"``). ``attrs`` holds notes to print."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    if by not in SCOPES:
        raise ValueError(f"unknown grouping {by!r}; choose domain or all")
    if by == "role" and view != "same-role":
        raise ValueError("ratings per role need the same-role view (--view same-role)")
    if method == "bt" and bootstrap < MIN_BOOTSTRAP_ALLOWED:
        raise ValueError(f"--bootstrap must be at least {MIN_BOOTSTRAP_ALLOWED}, got {bootstrap}")
    data, errored = usable(matches)
    tables, fit_notes = [], []
    for role, fights in _battle_sets(data, view, margin):
        for scope, part in _scopes(fights, by):
            if not part.empty:
                table, notes = _rate(part, method, bootstrap, seed, k, advantage=(view == "head-to-head"))
                tables.append(table.assign(domain=scope, role=role, view=view, method=method))
                fit_notes += [f"{role}, {scope}: {note}" for note in notes]
    result = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(
        columns=["domain", "role", "rank", "agent", "rating"])
    if len(result):
        result = result.merge(agreement_rates(data), on=["agent", "role", "domain"], how="left")
    result.attrs.update(errored_excluded=errored,
                        notes=rating_notes(data, result, view, method, bootstrap) + fit_notes)
    return result


def rating_notes(matches: pd.DataFrame, table: pd.DataFrame, view: str, method: str, bootstrap: int) -> list[str]:
    """What a reader must know next to the table: role linking, order dependence, thin data, assumptions."""
    notes = [RANK_RULE if method == "bt" else ELO_RANK_RULE]
    if view == "head-to-head":
        notes.append(role_link_note(matches))
    if method == "elo":
        notes.append(f"Elo is {ORDER_NOTE}; another order gives other ratings (Bradley-Terry does not depend on it)")
    if method == "bt" and bootstrap < MIN_BOOTSTRAP:
        notes.append(f"warning: only {bootstrap} bootstrap resamples (fewer than {MIN_BOOTSTRAP}): interval ends are noisy")
    if method == "bt" and "clusters" in table and len(table):
        thin = table[table["clusters"] < MIN_CLUSTERS]
        if len(thin):
            scopes = ", ".join(sorted(set(thin["domain"])))
            notes.append(f"warning: intervals in {scopes} rest on fewer than {MIN_CLUSTERS} scenario clusters "
                         f"(as few as {int(thin['clusters'].min())}); they understate the uncertainty")
    note = assumption_note(matches)
    if note:
        notes.append(note)
    return notes


def role_link_note(matches: pd.DataFrame) -> str:
    """How head-to-head ties the focal and counterpart scales together."""
    both = sorted(set(matches["focal_agent"]) & set(matches["counterpart_agent"]))
    if not both:
        return ("warning: head-to-head puts focal and counterpart agents on one scale, but no agent plays both "
                "roles: the two roles' ratings are not comparable (use the default same-role view)")
    return ("warning: head-to-head puts focal and counterpart agents on one scale through a per-domain role "
            f"advantage and only through the agents that play both roles ({', '.join(both)}); other such agents "
            "would move each role's ratings against the other's. The bootstrap intervals do not show this. "
            "Rank within a role with the default same-role view")


SCRIPTED_MEANING = ("scripted counterparts concede more or less according to the emotion they sense, by this "
                    "model's assumed effects, so rankings of emotion strategies against them follow the model, not "
                    "measured behaviour; conclusions about strategies need model-backed counterparts")


def assumption_note(matches: pd.DataFrame) -> str:
    """Which response model produced the scripted counterparts' results, and what that means ("" if none)."""
    if "response_model" not in matches:
        return ""
    models = sorted({str(x) for x in matches["response_model"].dropna() if str(x)})
    if not models:
        return ""
    return f"response model {', '.join(repr(m) for m in models)}: {SCRIPTED_MEANING}"
