"""``arena compare`` and ``arena sensitivity``: paired comparisons of a run, and whether they survive
other response models for the scripted counterparts."""
from __future__ import annotations

import difflib
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

import leaderboards
from agents.llm import ConfigError
from arena.runner import run_tournament
from arena.spec import TournamentSpec, load_spec_file, with_response_model
from arena.storage import load_matches
from leaderboards.compare import FAMILY_MEANING, ROLES, family_notes

SHOWN = ["agent", "baseline", "role", "metric", "domain", "opponent", "pairs", "clusters", "mean_a", "mean_b",
         "difference", "lower", "upper", "p", "flips", "p_holm", "significant"]
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
    roles = {a: [k for k in ROLES if a in set(matches[f"{k}_agent"])] for a in agents}
    if not set(roles[agents[0]]) & set(roles[agents[1]]):
        raise ConfigError(f"{agents[0]} plays {' and '.join(roles[agents[0]])}, {agents[1]} plays "
                          f"{' and '.join(roles[agents[1]])}: a comparison pairs agents of the same role")
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


def rounded(table: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """Numbers to ``digits`` decimals, p-values left whole (``_readable`` writes small ones with exponents)."""
    return table.round({c: digits for c in table.columns if c not in ("p", "p_holm")})


def _readable(table: pd.DataFrame) -> pd.DataFrame:
    """For people: p-values with two significant digits below 0.001, and NaN shown as n/a."""
    shown = table.astype(object)
    for column in ("p", "p_holm"):
        if column in table:
            shown[column] = [f"{v:.2g}" if 0 < v < 0.001 else round(v, 4) for v in table[column].astype(float)]
    return shown.where(table.notna(), "n/a")


def print_table(table: pd.DataFrame, fmt: str, basis: leaderboards.Basis | None = None, notes: list[str] = ()) -> None:
    """The table in ``fmt`` (p-values readable in table and markdown); with a basis, labelled with it
    (see leaderboards.render_table)."""
    table = leaderboards.no_negative_zero(table)
    print(leaderboards.render_table(table if fmt in ("csv", "json") else _readable(table), fmt, basis, notes))


def _legend(table: pd.DataFrame) -> list[str]:
    return [f"difference = A - B over paired matches (same domain, scenario, opponent, role and repeat); "
            f"lower/upper: 95% t-interval on the scenario totals (stratified by domain, df Satterthwaite), n/a where "
            f"the data cannot support one; p: sign-flip test over scenarios, exact when flips = 2^(scenarios with a "
            f"non-zero total), else that many drawn flips; p_holm: Holm within the row's family only, so a verdict "
            f"never depends on what else is shown; significant: p_holm < {table.attrs.get('alpha', 0.05)}"]


def show_comparison(table: pd.DataFrame, fmt: str, matches: pd.DataFrame) -> None:
    """csv/json: the whole table, each side labelled with its backend, model and fallback share, and the
    notes; table/markdown: one block per declared family, then the legend, the notes and the basis."""
    basis = leaderboards.run_basis(matches)
    labelled = basis.annotate(basis.annotate(table), "baseline", "baseline_")
    labels = [c for c in labelled if c not in table]
    notes = _legend(table) + family_notes(table) + [f"warning: {w}" for w in table.attrs["warnings"]]
    if fmt in ("csv", "json"):
        print_table(labelled, fmt, basis, notes)
        return
    for family, size in table.attrs["families"].items():
        part = labelled[labelled["family"] == family]
        print(f"\n{family} family: {FAMILY_MEANING[family].format(primary=table.attrs['primary'])}; "
              f"{size} rows, Holm within them")
        print_table(rounded(part[SHOWN + labels]), fmt)
    empty = table[table["clusters"] == 0]
    if len(empty):
        print(f"\n{len(empty)} rows without paired matches left out")
    tail = notes + basis.warnings()
    if fmt == "markdown":
        print("\n".join([""] + [f"> {note}\n" for note in tail] + [f"*{basis.caption()}*"]))
    else:
        print("\n".join([""] + tail + [basis.caption()]))


def compare_run(run: str, agents: list[str], baseline: str | None, metrics: list[str] | None, bootstrap: int | None,
                alpha: float, fmt: str, per_opponent: bool = False) -> int:
    """``arena compare``: the first metric listed is the primary one (default utility)."""
    if bootstrap is not None:
        print("arena: note: --bootstrap is no longer used by compare (its intervals are t-intervals on scenario "
              "totals, see docs/guides/compare.md)", file=sys.stderr)
    matches = leaderboards.agent_matches(load_matches(run))  # people: arena leaderboard RUN --people
    chosen = _metrics(metrics)
    table = leaderboards.compare(matches, comparison_pairs(matches, agents, baseline), chosen, alpha=alpha,
                                 per_opponent=per_opponent, primary=chosen[0])
    show_comparison(table, fmt, matches)
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


KEYS = ["agent", "baseline", "role", "metric", "domain", "opponent", "family"]


def _sensitivity_table(run: str, matches: pd.DataFrame, pairs: list[tuple[str, str]], chosen: tuple[str, ...],
                       alpha: float, workers: int | None) -> pd.DataFrame:
    """The run's comparison beside the same comparison (same families, same seed) under each replay."""
    spec = run_spec(run)
    base = leaderboards.compare(matches, pairs, chosen, alpha=alpha, primary=chosen[0])
    merged = base[KEYS + ["family_size", "difference", "lower", "upper", "p_holm", "significant"]]
    for choice in REPLAYS:
        print(f"replaying {run} under the {choice!r} response model into {Path(run) / 'sensitivity' / choice} ...")
        other = leaderboards.compare(replay_under(spec, run, choice, workers), pairs, chosen, alpha=alpha,
                                     primary=chosen[0])
        other = other[KEYS + ["difference", "significant"]].rename(
            columns={"difference": f"difference_{choice}", "significant": f"significant_{choice}"})
        merged = merged.merge(other, on=KEYS, how="left")
    merged["verdict"] = merged.apply(verdict, axis=1)
    merged.attrs.update(base.attrs, response_model=spec.response_model)
    return merged


def sensitivity(run: str, agents: list[str], baseline: str | None, metrics: list[str] | None, bootstrap: int | None,
                alpha: float, fmt: str, workers: int | None) -> int:
    """``arena sensitivity``: the primary family of ``arena compare`` (same comparisons, same verdicts),
    replayed under the flat and reversed response models; other families are reported apart."""
    if bootstrap is not None:
        print("arena: note: --bootstrap is no longer used by sensitivity (intervals are t-intervals)", file=sys.stderr)
    matches = load_matches(run)
    if not leaderboards.assumption_note(matches):
        raise ConfigError(f"no scripted counterpart in {run} follows a response model: there is nothing to replay")
    pairs = comparison_pairs(matches, agents, None if agents else (baseline or "vanilla"))
    merged = _sensitivity_table(run, matches, pairs, _metrics(metrics or ["utility"]), alpha, workers)
    print(f"\nresponse model of the run: {merged.attrs['response_model']!r}; each replay changes only the scripted "
          "counterparts' response to emotion")
    print_table(rounded(merged) if fmt in ("table", "markdown") else merged, fmt)
    if fmt == "table":
        print("\n".join(family_notes(merged)))
        for family, part in merged.groupby("family", sort=False):
            counts = part["verdict"].str.split(":").str[0].str.split(" \\(").str[0].value_counts()
            print(f"{family} family ({len(part)} rows): " + ", ".join(f"{n} {v}" for v, n in counts.items()))
    return 0
