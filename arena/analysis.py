"""``arena compare`` and ``arena sensitivity``: paired comparisons of a run, and whether they survive
other response models for the scripted counterparts."""
from __future__ import annotations

import difflib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

import leaderboards
from agents.llm import ConfigError
from arena.runner import run_tournament
from arena.spec import TournamentSpec, load_spec_file, with_response_model
from arena.storage import load_matches

SHOWN = ["agent", "baseline", "role", "domain", "opponent", "metric", "pairs", "clusters", "mean_a", "mean_b", "difference",
         "lower", "upper", "p", "p_holm", "significant"]
REPLAYS = ("flat", "reversed")


def comparison_pairs(matches: pd.DataFrame, agents: list[str], baseline: str | None) -> list[tuple[str, str]]:
    """(A, B) pairs from two named agents or a baseline; a ConfigError names an agent the run lacks."""
    known = sorted(set(matches["focal_agent"]) | set(matches["counterpart_agent"]))
    for name in agents + ([baseline] if baseline else []):
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else f"; agents in this run: {', '.join(known)}"
            raise ConfigError(f"no agent {name!r} in this run{hint}")
    if baseline and agents:
        raise ConfigError("give either two agents (A B) or --baseline NAME, not both")
    if baseline:
        return leaderboards.baseline_pairs(matches, baseline)
    if len(agents) != 2 or agents[0] == agents[1]:
        raise ConfigError("compare needs two different agents (A B) or --baseline NAME")
    return [(agents[0], agents[1])]


OUTCOMES = ("agreement", "breakdown", "error", "abandoned")


def filter_matches(m: pd.DataFrame, run: str, domain: str | None = None, agent: str | None = None,
                   counterpart: str | None = None, outcome: str | None = None) -> pd.DataFrame:
    """The matches with this domain, focal agent, counterpart and outcome (None: any); a ConfigError
    names a value the run does not have."""
    for column, value in (("domain", domain), ("focal_agent", agent), ("counterpart_agent", counterpart)):
        if value is not None:
            if value not in set(m[column]):
                raise ConfigError(f"no {column.replace('_', ' ')} {value!r} in {run}; there are: "
                                  f"{', '.join(sorted(set(m[column])))}")
            m = m[m[column] == value]
    if outcome is None:
        return m
    if outcome not in OUTCOMES:
        raise ConfigError(f"unknown outcome {outcome!r}; choose one of {', '.join(OUTCOMES)}")
    abandoned = leaderboards.abandoned(m)
    failed = leaderboards.errored(m)
    deal = leaderboards.agreed(m)
    keep = {"error": failed & ~abandoned, "abandoned": abandoned, "agreement": deal & ~failed,
            "breakdown": ~deal & ~failed}
    return m[keep[outcome]]


def _metrics(names: list[str] | None) -> tuple[str, ...]:
    names = names or list(leaderboards.METRICS)
    unknown = [m for m in names if m not in leaderboards.METRICS]
    if unknown:
        raise ConfigError(f"unknown metric {unknown[0]!r}; choose from {', '.join(leaderboards.METRICS)}")
    return tuple(names)


def print_table(table: pd.DataFrame, fmt: str, basis: leaderboards.Basis | None = None, notes: list[str] = ()) -> None:
    """The table in ``fmt``; with a basis, labelled with it (see leaderboards.render_table)."""
    print(leaderboards.render_table(table, fmt, basis, notes))


def _legend(table: pd.DataFrame) -> list[str]:
    return [f"difference = A - B over paired matches (same domain, scenario, opponent, role and repeat); 95% "
            f"cluster-bootstrap interval (scenarios resampled within each domain); p from a sign-flip test over "
            f"scenarios; p_holm adjusted (Holm) over the {table.attrs.get('comparisons', len(table))} comparisons "
            f"shown; significant at family-wise alpha = {table.attrs.get('alpha', 0.05)}"]


def compare_run(run: str, agents: list[str], baseline: str | None, metrics: list[str] | None, bootstrap: int,
                alpha: float, fmt: str, per_opponent: bool = False) -> int:
    matches = leaderboards.agent_matches(load_matches(run))  # people: arena leaderboard RUN --people
    table = leaderboards.compare(matches, comparison_pairs(matches, agents, baseline), _metrics(metrics),
                                 bootstrap=bootstrap, alpha=alpha, per_opponent=per_opponent)
    basis = leaderboards.run_basis(matches)  # labels: each side's backend, model and fallback share
    labelled = basis.annotate(basis.annotate(table), "baseline", "baseline_")
    print_table(labelled[SHOWN + [c for c in labelled if c not in table]].round(4), fmt, basis)
    if fmt == "table":
        notes = _legend(table) + [f"warning: {w}" for w in table.attrs["warnings"]]
        note = leaderboards.assumption_note(matches)
        print("\n".join(notes + ([note] if note else [])))
    return 0


def run_spec(run: str | Path) -> TournamentSpec:
    """The resolved specification a run was made with (its tournament.toml)."""
    path = Path(run) / "tournament.toml"
    if not path.is_file():
        raise ConfigError(f"{run} has no tournament.toml; sensitivity needs a run made by arena tournament")
    return TournamentSpec(**load_spec_file(path))


def replay_under(spec: TournamentSpec, run: str | Path, choice: str, workers: int | None) -> pd.DataFrame:
    """The same tournament with the response model ``choice``, in RUN/sensitivity/CHOICE (resumable)."""
    replay = with_response_model(spec, choice)
    if workers is not None:
        replay = replace(replay, workers=workers)
    return run_tournament(replay, Path(run) / "sensitivity" / choice)


def verdict(row: pd.Series) -> str:
    """Does a comparison keep its sign and its significance under both replays?"""
    if not row["significant"]:
        moved = [c for c in REPLAYS if row[f"significant_{c}"]]
        return "not significant" + (f" (significant under {', '.join(moved)})" if moved else "")
    lost = []
    for choice in REPLAYS:
        if np.sign(row[f"difference_{choice}"]) == 0:
            lost.append(f"vanishes under {choice}")
        elif np.sign(row[f"difference_{choice}"]) != np.sign(row["difference"]):
            lost.append(f"sign flips under {choice}")
        elif not row[f"significant_{choice}"]:
            lost.append(f"not significant under {choice}")
    return "survives flat and reversed" if not lost else "depends on the response model: " + "; ".join(lost)


def sensitivity(run: str, agents: list[str], baseline: str | None, metrics: list[str] | None, bootstrap: int,
                alpha: float, fmt: str, workers: int | None) -> int:
    matches = load_matches(run)
    if not leaderboards.assumption_note(matches):
        raise ConfigError(f"no scripted counterpart in {run} follows a response model: there is nothing to replay")
    pairs = comparison_pairs(matches, agents, None if agents else (baseline or "vanilla"))
    spec, chosen = run_spec(run), _metrics(metrics or ["utility"])
    base = leaderboards.compare(matches, pairs, chosen, bootstrap=bootstrap, alpha=alpha)
    keys = ["agent", "baseline", "role", "domain", "opponent", "metric"]
    merged = base[keys + ["difference", "lower", "upper", "p_holm", "significant"]]
    for choice in REPLAYS:
        print(f"replaying {run} under the {choice!r} response model into {Path(run) / 'sensitivity' / choice} ...")
        other = leaderboards.compare(replay_under(spec, run, choice, workers), pairs, chosen, bootstrap=bootstrap,
                                     alpha=alpha)
        other = other[keys + ["difference", "significant"]].rename(
            columns={"difference": f"difference_{choice}", "significant": f"significant_{choice}"})
        merged = merged.merge(other, on=keys, how="left")
    merged["verdict"] = merged.apply(verdict, axis=1)
    print(f"\nresponse model of the run: {spec.response_model!r}; each replay changes only the scripted counterparts' "
          "response to emotion")
    print_table(merged.round(4), fmt)
    if fmt == "table":
        counts = merged["verdict"].str.split(":").str[0].str.split(" \\(").str[0].value_counts()
        print("\n" + ", ".join(f"{n} {v}" for v, n in counts.items()))
    return 0
