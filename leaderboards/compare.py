"""Paired comparisons: agent A against agent B on the same scenario, opponent, role and repeat.

Each paired unit is two matches that differ only in the agent compared. The estimate is the mean
paired difference (A - B); scenarios are the clusters. Its 95% interval is a t-interval on the
scenario totals (stratified by domain) and its p-value comes from a sign-flip test on the same
totals (see :mod:`leaderboards.inference` for both and their measured calibration).

Rows belong to declared families, each with its own Holm adjustment, so that a verdict never depends
on what else is displayed:

- ``primary``: the primary metric (default utility) pooled over the domains, one row per comparison
  (A, B, role). Its size depends only on the comparisons asked for.
- ``per-domain`` / ``per-opponent``: the primary metric in each domain / against each opponent
  (pooled over domains). A breakdown with one level is the pooled row itself and is not repeated.
- ``secondary-metric`` (pooled), ``secondary-metric per-domain``, ``secondary-metric per-opponent``:
  the other metrics, likewise.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leaderboards.battles import agreed, usable
from leaderboards.inference import floor_decides, flips_for, holm, sign_flip_test, t_interval

ROLES = ("focal", "counterpart")
METRICS = ("utility", "agreement", "savings", "emodistill_utility", "rounds")
MIN_CLUSTERS = 10
MIN_BOOTSTRAP = 200
PRIMARY = "utility"
FAMILIES = ("primary", "per-domain", "per-opponent", "secondary-metric", "secondary-metric per-domain",
            "secondary-metric per-opponent")
COLUMNS = ["agent", "baseline", "role", "metric", "domain", "opponent", "family", "family_size", "pairs", "clusters",
           "mean_a", "mean_b", "difference", "lower", "upper", "df", "p", "flips", "p_holm", "significant"]
FAMILY_MEANING = {
    "primary": "{primary} pooled over the domains, one row per comparison",
    "per-domain": "{primary} in each domain",
    "per-opponent": "{primary} against each opponent, pooled over the domains",
    "secondary-metric": "the other metrics pooled over the domains",
    "secondary-metric per-domain": "the other metrics in each domain",
    "secondary-metric per-opponent": "the other metrics against each opponent, pooled over the domains",
}


def metric_values(matches: pd.DataFrame, kind: str, metric: str) -> pd.Series:
    """One number per match for the agent in role ``kind`` (NaN where undefined: savings on breakdowns)."""
    deal = agreed(matches)
    if metric == "utility":
        return matches[f"{kind}_utility"].astype(float)
    if metric == "agreement":
        return deal.astype(float)
    if metric == "savings":
        return matches[f"{kind}_savings"].astype(float).where(deal)
    if metric == "emodistill_utility":  # agreement x savings: its mean is success rate x mean savings
        return matches[f"{kind}_savings"].astype(float).fillna(0.0).where(deal, 0.0)
    if metric == "rounds":
        return matches["rounds"].astype(float)
    raise ValueError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")


def paired_units(matches: pd.DataFrame, a: str, b: str, kind: str) -> pd.DataFrame:
    """Matches of A and of B in role ``kind`` joined on domain, scenario, opponent and repeat."""
    other = "counterpart" if kind == "focal" else "focal"
    keys = ["domain", "scenario", "opponent", "repeat"]
    sides = []
    for agent in (a, b):
        part = matches[matches[f"{kind}_agent"] == agent]
        frame = part[["domain", "scenario", "repeat"]].assign(opponent=part[f"{other}_agent"].to_numpy())
        for metric in METRICS:
            frame[metric] = metric_values(part, kind, metric).to_numpy()
        sides.append(frame)
    return sides[0].merge(sides[1], on=keys, suffixes=("_a", "_b"))


@dataclass(frozen=True)
class Clustered:
    """Paired differences summed per scenario, with each scenario's domain (its stratum)."""

    sums: np.ndarray
    counts: np.ndarray
    strata: np.ndarray

    @classmethod
    def of_metrics(cls, units: pd.DataFrame, metrics: tuple[str, ...]) -> dict[str, "Clustered"]:
        """Per-scenario sums for several metrics with one grouping (each metric's NaN pairs left out)."""
        diffs = pd.DataFrame({m: units[f"{m}_a"].to_numpy(float) - units[f"{m}_b"].to_numpy(float) for m in metrics})
        grouped = diffs.groupby([units["domain"].to_numpy(), units["scenario"].to_numpy()], sort=True)
        sums, counts = grouped.sum(), grouped.count()
        out = {}
        for m in metrics:
            keep = counts[m].to_numpy() > 0
            out[m] = cls(sums[m].to_numpy(float)[keep], counts[m].to_numpy(float)[keep],
                         pd.factorize(sums.index.get_level_values(0)[keep])[0])
        return out

    @property
    def n_clusters(self) -> int:
        return len(self.sums)


def _estimate(units: pd.DataFrame, metric: str, clustered: Clustered) -> tuple[dict, np.ndarray, str]:
    """A row's numbers, its scenario totals (for the test) and why it has no interval ("" if it has)."""
    if clustered.n_clusters == 0:
        return ({"pairs": 0, "clusters": 0, "mean_a": np.nan, "mean_b": np.nan, "difference": np.nan,
                 "lower": np.nan, "upper": np.nan, "df": np.nan}, np.empty(0), "no paired matches")
    ok = (units[f"{metric}_a"] - units[f"{metric}_b"]).notna()
    interval = t_interval(clustered.sums, clustered.counts, clustered.strata)
    return ({"pairs": int(ok.sum()), "clusters": clustered.n_clusters,
             "mean_a": float(units.loc[ok, f"{metric}_a"].mean()), "mean_b": float(units.loc[ok, f"{metric}_b"].mean()),
             "difference": float(interval.estimate), "lower": float(interval.lower), "upper": float(interval.upper),
             "df": float(interval.df)}, clustered.sums, str(interval.reason))


def _roles_in_common(matches: pd.DataFrame, a: str, b: str) -> list[str]:
    return [k for k in ROLES if {a, b} <= set(matches[f"{k}_agent"])]


def baseline_pairs(matches: pd.DataFrame, baseline: str) -> list[tuple[str, str]]:
    """Every other agent that plays a role the baseline plays, against the baseline."""
    roles = [k for k in ROLES if baseline in set(matches[f"{k}_agent"])]
    if not roles:
        raise ValueError(f"baseline {baseline!r} played no match in this table")
    others = sorted({x for k in roles for x in matches[f"{k}_agent"].unique()} - {baseline})
    return [(agent, baseline) for agent in others]


def _scopes(units: pd.DataFrame, per_opponent: bool) -> list[tuple[str, str, str, pd.DataFrame]]:
    """(breakdown, domain, opponent, units): the pooled row, then each domain and opponent when there is
    more than one (a one-domain comparison's pooled row is its domain row, labelled with the domain)."""
    domains = sorted(units["domain"].unique())
    pooled = str(domains[0]) if len(domains) == 1 else "all"
    scopes = [("", pooled, "all", units)]
    if len(domains) > 1:
        scopes += [("per-domain", str(d), "all", part) for d, part in units.groupby("domain")]
    if per_opponent and units["opponent"].nunique() > 1:
        scopes += [("per-opponent", pooled, str(o), part) for o, part in units.groupby("opponent")]
    return scopes


def family_of(metric: str, primary: str, breakdown: str) -> str:
    """The declared family of a row: its metric (primary or not) and its breakdown."""
    if metric == primary:
        return breakdown or "primary"
    return "secondary-metric" + (f" {breakdown}" if breakdown else "")


def _rows(data: pd.DataFrame, pairs: list[tuple[str, str]], metrics: tuple[str, ...], primary: str,
          per_opponent: bool) -> tuple[list[dict], list[np.ndarray], list[str]]:
    rows, totals, reasons = [], [], []
    for a, b in pairs:
        for kind in _roles_in_common(data, a, b):
            units = paired_units(data, a, b, kind)
            if units.empty:
                continue
            for breakdown, domain, opponent, part in _scopes(units, per_opponent):
                clustered = Clustered.of_metrics(part, metrics)
                for metric in metrics:
                    numbers, sums, reason = _estimate(part, metric, clustered[metric])
                    rows.append({"agent": a, "baseline": b, "role": kind, "metric": metric, "domain": domain,
                                 "opponent": opponent, "family": family_of(metric, primary, breakdown)} | numbers)
                    totals.append(sums)
                    reasons.append(reason)
    return rows, totals, reasons


def _test(table: pd.DataFrame, totals: list[np.ndarray], seed: int, alpha: float) -> dict[str, int]:
    """Sign-flip p-values and Holm within each family; returns each family's flip ceiling."""
    table["p"], table["flips"], table["p_holm"] = np.nan, 0, np.nan
    ceilings = {}
    for family, index in table.groupby("family", sort=False).groups.items():
        rows = [i for i in index if table.at[i, "clusters"] > 0]
        if not rows:
            continue
        width = max(len(totals[i]) for i in rows)
        x = np.zeros((len(rows), width))
        for r, i in enumerate(rows):
            x[r, :len(totals[i])] = totals[i]
        ceilings[family] = flips_for(len(rows), alpha)
        rng = np.random.default_rng([seed, zlib.crc32(family.encode())])
        p, used = sign_flip_test(x, ceilings[family], rng)
        table.loc[rows, "p"], table.loc[rows, "flips"] = p, used
        table.loc[rows, "p_holm"] = holm(p)
    return ceilings


def compare(matches: pd.DataFrame, pairs: list[tuple[str, str]], metrics: tuple[str, ...] = METRICS,
            bootstrap: int | None = None, seed: int = 0, alpha: float = 0.05, per_opponent: bool = False,
            primary: str = PRIMARY) -> pd.DataFrame:
    """Mean paired difference A - B per comparison, role, metric and breakdown, with 95% t-intervals,
    sign-flip p-values and Holm adjustment within each declared family (the module docstring).
    ``primary`` is always compared; ``bootstrap`` is unused (intervals are t-intervals) and kept for
    callers written before. ``attrs`` holds the families' sizes, notes and warnings."""
    for metric in (primary, *metrics):
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    chosen = (primary,) + tuple(m for m in dict.fromkeys(metrics) if m != primary)
    data, errored = usable(matches)
    rows, totals, reasons = _rows(data, pairs, chosen, primary, per_opponent)
    table = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in ("family_size", "p", "flips", "p_holm",
                                                                         "significant")])
    ceilings = _test(table, totals, seed, alpha)
    sizes = table[table["clusters"] > 0].groupby("family").size()
    table["family_size"] = table["family"].map(sizes).fillna(0).astype(int)
    table["significant"] = table["p_holm"] < alpha
    order = {f: i for i, f in enumerate(FAMILIES)}
    table = table.sort_values("family", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)[COLUMNS]
    families = {f: int(sizes[f]) for f in FAMILIES if f in sizes}
    coarse = [f for f, m in families.items() if floor_decides(m, ceilings[f], alpha)]
    table.attrs.update(alpha=alpha, primary=primary, errored_excluded=errored, flips=ceilings, families=families,
                       comparisons=families.get("primary", 0),
                       warnings=thin_data_warnings(table) + interval_warnings(reasons) + [
                           f"family {f!r}: at alpha {alpha} even {ceilings[f]:,} sign flips leave a Monte-Carlo floor "
                           "that may decide verdicts; use a larger alpha or fewer rows" for f in coarse])
    if not rows:
        table.attrs["warnings"].append("no paired matches: the agents never played the same role against the "
                                       "same opponent on the same scenario and repeat")
    return table


def interval_warnings(reasons: list[str]) -> list[str]:
    """One note per reason why rows have no interval (n/a)."""
    counts = pd.Series([r for r in reasons if r and r != "no paired matches"], dtype=object).value_counts()
    return [f"{n} row(s) have no interval (n/a): {reason}" for reason, n in counts.items()]


def thin_data_warnings(table: pd.DataFrame) -> list[str]:
    """Notes to print beside intervals that rest on few scenarios."""
    thin = table[(table["clusters"] > 0) & (table["clusters"] < MIN_CLUSTERS)] if len(table) else table
    if not len(thin):
        return []
    return [f"{len(thin)} rows rest on fewer than {MIN_CLUSTERS} scenario clusters (as few as "
            f"{int(thin['clusters'].min())}): their t-intervals and p-values have little to go on"]


def family_notes(table: pd.DataFrame) -> list[str]:
    """What each family shown is, its size and its flip ceiling."""
    primary, alpha = table.attrs.get("primary", PRIMARY), table.attrs.get("alpha", 0.05)
    lines = []
    for family, size in table.attrs.get("families", {}).items():
        meaning = FAMILY_MEANING[family].format(primary=primary)
        lines.append(f"family {family!r} ({meaning}): {size} rows, Holm at family-wise alpha {alpha}, "
                     f"at most {table.attrs['flips'][family]:,} drawn sign flips per row")
    return lines
