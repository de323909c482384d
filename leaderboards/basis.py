"""What a run's numbers rest on: the backends, models and response model behind every output.

Scripted counterparts react to the emotion they sense by a response model (a table of assumed
effects), so rankings of emotion strategies against them follow that table: every emotion-strategy
difference is 0 under ``flat`` and flips sign under ``reversed``. Every table, export and plot
therefore carries this basis: a caption line, per-row columns and, in JSON, an object.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import pandas as pd

from leaderboards.health import FALLBACK_WARN, fallback_share, fallback_warning_text, flagged, merge_shares

ROLES = ("focal", "counterpart")
BASIS_COLUMNS = ("backend", "model", "response_model")
LABEL_COLUMNS = (*BASIS_COLUMNS, "fallback_share")  # what annotate() adds to a table
UNRECORDED = "unrecorded"  # a match table from before backends were recorded
MAX_SHOWN = 3  # backend/model combinations named per role in a caption
RESPONSE_NOTE = ("scripted counterparts react to emotion by this table, so emotion-strategy rankings against them "
                 "follow it (see arena sensitivity)")


def _distinct(values: pd.Series) -> list[str]:
    return sorted({str(v) for v in values.dropna() if str(v)})


def _short(name: str) -> str:
    """A model file or response-model file by its file name (a served model's name stays whole)."""
    return PurePath(name).name if name.startswith(("/", "~", ".")) or name.endswith((".gguf", ".toml")) else name


def _side(matches: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Agent, role, backend, model and response model of each match, seen from role ``kind``."""
    def column(name: str, missing: str = "") -> pd.Series:
        return matches[name].fillna("").astype(str) if name in matches else pd.Series(missing, matches.index)

    return pd.DataFrame({"agent": matches[f"{kind}_agent"].astype(str), "role": kind,
                         "backend": column(f"{kind}_backend", UNRECORDED), "model": column(f"{kind}_model"),
                         "response_model": column("response_model")})


def _joined(values: pd.Series) -> str:
    return " + ".join(_distinct(values))


@dataclass(frozen=True)
class Basis:
    """The backends and models per role and agent, the response models, and how much of each agent's
    play was its fallback policy or the guards' rewrites, of a match table."""

    agents: pd.DataFrame  # agent, role ("focal", "counterpart", "both"), backend, model, response_model
    combos: dict[str, list[str]]  # per role: "backend model" combinations, most matches first
    response_models: tuple[str, ...]
    shares: pd.DataFrame  # fallback_share(): agent, role, domain, moves, rewritten, fallback_share
    threshold: float = FALLBACK_WARN

    def high_fallback(self) -> pd.DataFrame:
        """Agent, role and share (over all domains) of the agents above the warning threshold."""
        return flagged(self.shares, self.threshold)

    def warnings(self) -> list[str]:
        """Notes a reader must see next to any table of this run (the fallback warning, if any)."""
        text = fallback_warning_text(self.high_fallback(), self.threshold)
        return [text] if text else []

    def caption(self) -> str:
        """One line: backends and models per role, and the response model with what it means."""
        parts = []
        for kind in ROLES:
            shown = self.combos.get(kind, [])
            more = f" + {len(shown) - MAX_SHOWN} more" if len(shown) > MAX_SHOWN else ""
            parts.append(f"{kind} {' + '.join(shown[:MAX_SHOWN]) or 'none'}{more}")
        if self.response_models:
            names = ", ".join(repr(_short(m)) for m in self.response_models)
            response = f"response model {names}: {RESPONSE_NOTE}"
        else:
            response = "response model: none (no scripted counterpart follows one)"
        return f"basis: {'; '.join(parts)}; {response}"

    def to_dict(self) -> dict[str, Any]:
        """The basis as plain data (the ``basis`` object of a JSON export)."""
        return {"caption": self.caption(), "focal": self.combos.get("focal", []),
                "counterpart": self.combos.get("counterpart", []), "response_models": list(self.response_models),
                "fallback_threshold": self.threshold,
                "high_fallback": self.high_fallback().to_dict(orient="records"),
                "agents": self.agents.to_dict(orient="records")}

    def annotate(self, table: pd.DataFrame, agent: str = "agent", prefix: str = "") -> pd.DataFrame:
        """``table`` with the backend, model, response model and fallback share of the agent in column
        ``agent`` (in the row's role and domain where the table has those columns, else pooled), as
        ``prefix``-ed columns."""
        if agent not in table or not len(table):
            return table.assign(**{prefix + c: pd.Series(dtype=object) for c in LABEL_COLUMNS})
        keys = [agent, "role"] if "role" in table else [agent]
        lookup = self.agents if "role" in table else self.agents[self.agents["role"] == "both"].drop(columns="role")
        lookup = lookup.rename(columns={"agent": agent} | {c: prefix + c for c in BASIS_COLUMNS})
        shown = table.drop(columns=[prefix + c for c in BASIS_COLUMNS], errors="ignore")
        merged = merge_shares(shown.merge(lookup, on=keys, how="left"), self.shares, agent, prefix + "fallback_share")
        merged.attrs = dict(table.attrs)
        return merged


def run_basis(matches: pd.DataFrame) -> Basis:
    """The basis of a match table (errored matches included: they were meant to rest on it too)."""
    sides = pd.concat([_side(matches, kind) for kind in ROLES], ignore_index=True)
    rows = []
    for (agent, role), part in list(sides.groupby(["agent", "role"])) + list(
            sides.assign(role="both").groupby(["agent", "role"])):
        rows.append({"agent": agent, "role": role, "backend": _joined(part["backend"]),
                     "model": _joined(part["model"]), "response_model": _joined(part["response_model"])})
    agents = pd.DataFrame(rows, columns=["agent", "role", *BASIS_COLUMNS])
    combos = {}
    for kind in ROLES:
        side = sides[sides["role"] == kind]
        label = (side["backend"] + " " + side["model"].map(_short)).str.strip()
        counts = label.value_counts()
        combos[kind] = sorted(counts.index, key=lambda name: (-counts[name], name))
    return Basis(agents, combos, tuple(_distinct(sides["response_model"])), fallback_share(matches))


def basis_caption(matches: pd.DataFrame) -> str:
    """The one-line basis caption of a match table (a plain string, for pages and templates)."""
    return run_basis(matches).caption()
