"""Paired comparisons: agent A against agent B on the same scenario, opponent, role and repeat.

Each paired unit is two matches that differ only in the agent compared. The estimate is the mean
paired difference (A - B); its 95% interval comes from a cluster bootstrap (scenarios are the
clusters, resampled within each domain); its p-value from a sign-flip randomisation test on the
cluster sums (under "no difference" the sign of each scenario's total difference is exchangeable).
Holm's step-down adjustment runs over every comparison in one call.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leaderboards.battles import agreed, usable

ROLES = ("focal", "counterpart")
METRICS = ("utility", "agreement", "savings", "emodistill_utility", "rounds")
MIN_CLUSTERS = 10
MIN_BOOTSTRAP = 200
EXACT_FLIPS_UP_TO = 12  # clusters; beyond this the sign-flip test samples flips


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


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN entries are left out of the family and stay NaN)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    m = len(order)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adjusted
    return out


@dataclass(frozen=True)
class Clustered:
    """Paired differences summed per cluster, with each cluster's domain (the bootstrap's stratum)."""

    sums: np.ndarray
    counts: np.ndarray
    strata: np.ndarray

    @classmethod
    def of(cls, units: pd.DataFrame, diff: pd.Series) -> "Clustered":
        ok = diff.notna().to_numpy()
        frame = pd.DataFrame({"domain": units["domain"].to_numpy()[ok], "scenario": units["scenario"].to_numpy()[ok],
                              "diff": diff.to_numpy(float)[ok]})
        grouped = frame.groupby(["domain", "scenario"], sort=True)["diff"]
        sums, counts = grouped.sum(), grouped.size()
        return cls(sums.to_numpy(float), counts.to_numpy(float),
                   pd.factorize(sums.index.get_level_values(0))[0])

    @property
    def n_clusters(self) -> int:
        return len(self.sums)

    def bootstrap_means(self, resamples: int, rng: np.random.Generator) -> np.ndarray:
        """Means of ``resamples`` cluster bootstrap replicates, resampling within each stratum."""
        weights = np.zeros((resamples, self.n_clusters))
        for stratum in np.unique(self.strata):
            members = np.flatnonzero(self.strata == stratum)
            weights[:, members] = rng.multinomial(len(members), np.full(len(members), 1.0 / len(members)),
                                                  size=resamples)
        return (weights @ self.sums) / (weights @ self.counts)

    def sign_flip_p(self, rng: np.random.Generator, samples: int = 9999) -> float:
        """Two-sided p-value of the mean difference under random sign flips of whole clusters."""
        observed = abs(self.sums.sum())
        if self.n_clusters == 0:
            return float("nan")
        if self.n_clusters <= EXACT_FLIPS_UP_TO:
            signs = np.array(list(itertools.product((1.0, -1.0), repeat=self.n_clusters)))
            return float(np.mean(np.abs(signs @ self.sums) >= observed - 1e-12))
        signs = rng.choice((1.0, -1.0), size=(samples, self.n_clusters))
        extreme = np.sum(np.abs(signs @ self.sums) >= observed - 1e-12)
        return float((1 + extreme) / (1 + samples))


def _one(units: pd.DataFrame, metric: str, resamples: int, rng: np.random.Generator) -> dict:
    diff = units[f"{metric}_a"] - units[f"{metric}_b"]
    clustered = Clustered.of(units, diff)
    if clustered.n_clusters == 0:
        return {"pairs": 0, "clusters": 0, "mean_a": np.nan, "mean_b": np.nan, "difference": np.nan,
                "lower": np.nan, "upper": np.nan, "p": np.nan}
    ok = diff.notna()
    means = clustered.bootstrap_means(resamples, rng)
    return {"pairs": int(ok.sum()), "clusters": clustered.n_clusters,
            "mean_a": float(units.loc[ok, f"{metric}_a"].mean()), "mean_b": float(units.loc[ok, f"{metric}_b"].mean()),
            "difference": float(clustered.sums.sum() / clustered.counts.sum()),
            "lower": float(np.percentile(means, 2.5)), "upper": float(np.percentile(means, 97.5)),
            "p": clustered.sign_flip_p(rng)}


def _roles_in_common(matches: pd.DataFrame, a: str, b: str) -> list[str]:
    return [k for k in ROLES if {a, b} <= set(matches[f"{k}_agent"])]


def baseline_pairs(matches: pd.DataFrame, baseline: str) -> list[tuple[str, str]]:
    """Every other agent that plays a role the baseline plays, against the baseline."""
    roles = [k for k in ROLES if baseline in set(matches[f"{k}_agent"])]
    if not roles:
        raise ValueError(f"baseline {baseline!r} played no match in this table")
    others = sorted({x for k in roles for x in matches[f"{k}_agent"].unique()} - {baseline})
    return [(agent, baseline) for agent in others]


def _scopes(units: pd.DataFrame, per_opponent: bool) -> list[tuple[str, str, pd.DataFrame]]:
    scopes = [("all", "all", units)] + [(str(d), "all", part) for d, part in units.groupby("domain")]
    if per_opponent:
        scopes += [(domain, str(o), part) for domain, _, frame in list(scopes)
                   for o, part in frame.groupby("opponent")]
    return scopes


def compare(matches: pd.DataFrame, pairs: list[tuple[str, str]], metrics: tuple[str, ...] = METRICS,
            bootstrap: int = 1000, seed: int = 0, alpha: float = 0.05, per_opponent: bool = False) -> pd.DataFrame:
    """Mean paired difference A - B per role, domain (and "all"), opponent ("all", or each one with
    ``per_opponent``) and metric, with 95% cluster-bootstrap intervals and Holm-adjusted p-values over
    every row. ``attrs["warnings"]`` lists thin-data notes."""
    for metric in metrics:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
    data, errored = usable(matches)
    rng = np.random.default_rng(seed)
    rows = []
    for a, b in pairs:
        for kind in _roles_in_common(data, a, b):
            for domain, opponent, part in _scopes(paired_units(data, a, b, kind), per_opponent):
                for metric in metrics:
                    rows.append({"agent": a, "baseline": b, "role": kind, "domain": domain, "opponent": opponent,
                                 "metric": metric} | _one(part, metric, bootstrap, rng))
    table = pd.DataFrame(rows, columns=["agent", "baseline", "role", "domain", "opponent", "metric", "pairs",
                                        "clusters", "mean_a", "mean_b", "difference", "lower", "upper", "p"])
    table["p_holm"] = holm(table["p"].to_numpy(float)) if len(table) else []
    table["significant"] = table["p_holm"] < alpha
    table.attrs.update(warnings=thin_data_warnings(table, bootstrap), errored_excluded=errored, alpha=alpha,
                       comparisons=int(table["p"].notna().sum()))
    if not rows:
        table.attrs["warnings"].append("no paired matches: the agents never played the same role against the "
                                       "same opponent on the same scenario and repeat")
    return table


def thin_data_warnings(table: pd.DataFrame, bootstrap: int) -> list[str]:
    """Notes to print beside intervals that are too thin to trust."""
    notes = []
    if bootstrap < MIN_BOOTSTRAP:
        notes.append(f"only {bootstrap} bootstrap resamples (fewer than {MIN_BOOTSTRAP}): interval ends are noisy")
    if "clusters" in table and len(table):
        thin = table[(table["clusters"] > 0) & (table["clusters"] < MIN_CLUSTERS)]
        if len(thin):
            notes.append(f"{len(thin)} rows rest on fewer than {MIN_CLUSTERS} scenario clusters (as few as "
                         f"{int(thin['clusters'].min())}): their intervals understate the uncertainty")
    return notes
