"""What each ``arena`` subcommand does (the parser lives in cli.py)."""
from __future__ import annotations

import argparse
import inspect
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

import leaderboards
from agents import REGISTRY, AgentSpec, load_plugins
from agents.llm import ConfigError
from agents.registry import PLUGIN_ERRORS, PLUGIN_WARNINGS
from arena import analysis
from arena.analysis import print_table
from arena.runner import run_tournament
from arena.spec import TournamentSpec, check_types, default_agents, load_spec_file, resolve_backends
from arena.storage import load_matches, load_transcript
from envs import DOMAINS, get_domain, get_scenario


def build_spec(config: str | None, overrides: dict[str, Any]) -> TournamentSpec:
    """File values, then flags; agents named on the command line replace the file's list."""
    values = load_spec_file(config) if config else {}
    values.update({k: v for k, v in overrides.items() if k != "agents"})
    check_types(values)
    if "agents" in overrides:
        by_name = {a.display_name: a for a in values.get("agents", [])}
        values["agents"] = [by_name.get(name, AgentSpec(name)) for name in overrides["agents"]]
    values.setdefault("agents", default_agents())
    try:
        spec = TournamentSpec(**values)
    except TypeError as exc:
        raise ConfigError(f"bad tournament settings: {exc}") from None
    return resolve_backends(spec).validate()


class Progress:
    """Phases as lines, then a progress bar with ETA and live counts of finished, errored and agreed
    matches, and for served models the requests in flight, requests and tokens per second and the
    share of prompt tokens the servers reused from their caches; the bar (and so its ETA) starts with
    the first finished match, not during start-up."""

    def __init__(self, quiet: bool):
        self.quiet, self.bar = quiet, None
        self.errored = self.agreed = 0
        self.total = self.already = 0
        self.traffic = Traffic()

    def start(self, total: int, already: int) -> None:
        self.total, self.already = total, already
        if already:
            print(f"resuming: {already} of {total} matches already finished")

    def phase(self, text: str) -> None:
        if not self.quiet:
            print(f"{text} ...", flush=True)

    def update(self, record: dict[str, Any]) -> None:
        self.errored += bool(record.get("error"))
        self.agreed += bool(record.get("agreement"))
        if self.bar is None and not self.quiet:
            self.bar = tqdm(total=self.total, initial=self.already, unit="match", dynamic_ncols=True)
        if self.bar is not None:
            self.bar.update(1)
            self._postfix(refresh=False)

    def gauges(self, values: dict[str, int]) -> None:
        self.traffic.update(values)
        if self.bar is not None and self.traffic.shown:
            self._postfix(refresh=True)

    def _postfix(self, refresh: bool) -> None:
        self.bar.set_postfix(agreed=self.agreed, errored=self.errored, **self.traffic.shown, refresh=refresh)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def time_now() -> float:
    """The clock the progress rates are measured on."""
    import time

    return time.monotonic()


class Traffic:
    """Rates from successive gauge readings (over the last ~5 s), for the progress bar."""

    WINDOW_S = 5.0

    def __init__(self) -> None:
        self.readings: list[tuple[float, dict[str, int]]] = []
        self.shown: dict[str, str] = {}

    def update(self, values: dict[str, int]) -> None:
        now = time_now()
        self.readings = [r for r in self.readings if now - r[0] <= self.WINDOW_S] + [(now, values)]
        if not values.get("requests"):
            return
        (then, old), (_, new) = self.readings[0], self.readings[-1]
        span = max(now - then, 1e-9)
        tokens = (new["prompt_tokens"] + new["completion_tokens"]) - (old["prompt_tokens"] + old["completion_tokens"])
        reported = new.get("cache_reported_prompt_tokens", 0)
        self.shown = {"in_flight": str(new.get("in_flight", 0)),
                      "req/s": f"{(new['requests'] - old['requests']) / span:.1f}" if span > 0.1 else "-",
                      "tok/s": f"{tokens / span:.0f}" if span > 0.1 else "-",
                      "cache": f"{new.get('cached_tokens', 0) / reported:.0%}" if reported else "n/a"}


def tournament(config: str | None, overrides: dict[str, Any], out: str, bootstrap: int, quiet: bool) -> int:
    spec = build_spec(config, overrides)
    for note in spec.notes():
        print(f"note: {note}")
    progress = Progress(quiet)
    try:
        matches = run_tournament(spec, out, on_result=progress.update, on_start=progress.start,
                                 on_phase=progress.phase, on_note=warn, on_gauges=progress.gauges)
    finally:
        progress.close()
    progress.phase(f"rating ({bootstrap} bootstrap resamples)")
    print(f"\n{len(matches)} matches in {out} ({progress.errored} errored this run)")
    print_leaderboard(leaderboards.leaderboard(matches, by="all", bootstrap=bootstrap), "table", matches)
    print(f"per domain: arena leaderboard {out}; paired differences: arena compare {out} --baseline vanilla")
    if len(matches):
        print(f"transcripts: arena matches {out} lists ids; e.g. arena replay {out} '{matches['match_id'].iloc[0]}'")
    progress.phase("writing the report and plots")
    written = leaderboards.write_report(matches, Path(out) / "report", bootstrap=bootstrap, on_warning=warn)
    if written:
        print(f"leaderboard and plots written to {Path(out) / 'report'}")
    return errored_verdict(matches, out)


def warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr)


def errored_verdict(matches: pd.DataFrame, run: str) -> int:
    """Say how many matches errored and why; 1 (a failed run) when more than half of them did."""
    failed = matches[leaderboards.errored(matches) & ~leaderboards.abandoned(matches)]
    if failed.empty:
        return 0
    reasons = leaderboards.reason_counts(failed)
    why = f"most often {reasons.index[0]!r} ({reasons.iloc[0]} matches)"
    where = f"arena matches {run} --outcome error lists them with their reasons"
    if 2 * len(failed) <= len(matches):
        print(f"{len(failed)} of {len(matches)} matches errored, {why}; {where}")
        return 0
    rest = f"the results rest on the {len(matches) - len(failed)} others" if len(failed) < len(matches) else \
        "no match finished"
    print(f"arena: error: {len(failed)} of {len(matches)} matches errored, {why}: {rest}; {where}; rerun with the "
          "same --out to retry them", file=sys.stderr)
    return EXIT_FAILED


LEADERBOARD_COLUMNS = ("domain", "role", "rank", "agent", "rating", "lower", "upper", "agreement_rate", "battles",
                       "order")
REASON_WIDTH = 100  # characters of an error reason in a terminal table (csv and json give it whole)
EXIT_FAILED = 1  # a run whose matches mostly errored (2 is bad input)


def print_leaderboard(table: pd.DataFrame, fmt: str, matches: pd.DataFrame) -> None:
    """The table with each agent's basis and fallback share, then its notes (role linking, order
    dependence, thin data, assumptions, fallbacks, errored matches left out) and the basis caption."""
    notes = list(table.attrs.get("notes", []))
    if table.attrs.get("errored_excluded"):
        notes.append(f"({table.attrs['errored_excluded']} errored matches excluded)")
    columns = [c for c in LEADERBOARD_COLUMNS if c in table and not (c == "order" and fmt == "table")]
    basis = leaderboards.run_basis(matches)
    shown = basis.annotate(table[columns])
    print_table(shown.round({"rating": 1, "lower": 1, "upper": 1, "agreement_rate": 3, "fallback_share": 3}), fmt,
                basis, notes)


def print_metrics(matches: pd.DataFrame, fmt: str) -> None:
    """The metrics table with each agent's basis, the fallback warning and the basis caption."""
    basis = leaderboards.run_basis(matches)
    print_table(basis.annotate(leaderboards.metrics_table(matches)).round(3), fmt, basis)


def agent_roles(cls: type) -> str:
    """The role kinds an agent class plays, and its domains if it is limited to some."""
    return ", ".join(sorted(cls.roles)) + ("" if cls.domains is None else f" ({', '.join(sorted(cls.domains))})")


def describe_agent(name: str) -> str:
    """One agent at length: roles, package, its whole description and docstring, its parameters."""
    entry = REGISTRY[name]
    cls = entry.agent_class
    lines = [f"{name}  ({agent_roles(cls)}; from {entry.source})"]
    for text in dict.fromkeys(t for t in (cls.description, inspect.cleandoc(cls.__doc__ or "")) if t):
        lines += textwrap.wrap(" ".join(text.split()), 96, initial_indent="  ", subsequent_indent="  ")
    for key, meaning in sorted((cls.declared_parameters() or {}).items()):
        lines += textwrap.wrap(f"{key}: {meaning}", 96, initial_indent="  - ", subsequent_indent="    ")
    return "\n".join(lines)


def list_agents(long: bool = False) -> int:
    load_plugins()
    if long:
        print("\n\n".join(describe_agent(name) for name in sorted(REGISTRY)))
    else:
        rows = [{"name": name, "roles": agent_roles(REGISTRY[name].agent_class), "source": REGISTRY[name].source,
                 "description": textwrap.shorten(REGISTRY[name].agent_class.description
                                                 or (REGISTRY[name].agent_class.__doc__ or ""), 70)}
                for name in sorted(REGISTRY)]
        print(pd.DataFrame(rows).to_string(index=False))
        print("(arena agents --long: whole descriptions and parameters)")
    for name, error in sorted(PLUGIN_ERRORS.items()):
        print(f"plugin {name!r} failed to load: {error}")
    for warning in PLUGIN_WARNINGS:
        print(f"warning: {warning}")
    return 0


def list_domains() -> int:
    rows = [{"domain": d.name, "focal": d.focal_role, "counterpart": d.counterpart_role,
             "issue": f"{d.issue} ({d.unit})", "range": f"{d.low}..{d.high}", "focal prefers": d.focal_prefers}
            for d in DOMAINS.values()]
    print(pd.DataFrame(rows).to_string(index=False))
    return 0


def show(run: str) -> int:
    m = load_matches(run)
    ok = m[m["error"].isna()]
    abandoned = int(leaderboards.abandoned(m).sum())
    print(f"run {run}: {len(m)} matches, {len(m) - len(ok) - abandoned} errored, {abandoned} abandoned by people, "
          f"domains {', '.join(sorted(m['domain'].unique()))}")
    print(f"agreement rate {ok['agreement'].astype(float).mean():.3f}, mean rounds {ok['rounds'].mean():.1f}")
    print(ok.groupby("ended_by").size().rename("matches").to_string())
    print()
    print_metrics(m, "table")
    _print_traffic(leaderboards.served_traffic(m))
    reasons = leaderboards.reason_counts(m)
    if len(reasons):
        print("\nwhy matches errored (arena matches RUN --outcome error lists them):")
        print(reasons.rename_axis("reason").rename("matches").reset_index().to_string(index=False))
    note = leaderboards.assumption_note(m)
    if note:
        print(f"\n{note}")
    return 0


def _print_traffic(traffic: pd.DataFrame) -> None:
    """Served-model requests per backend and model, with the server prompt cache's hit share."""
    if traffic.empty:
        return
    print("\nserved models (server prompt cache: the share of prompt tokens the server reused; n/a where the "
          "server does not report it)")
    shown = traffic.assign(cache_hit_share=traffic["cache_hit_share"].map(
        lambda x: "n/a" if pd.isna(x) else f"{x:.1%}"))
    print(shown.to_string(index=False))


def list_matches(args: argparse.Namespace) -> int:
    """Match ids with who played, how it ended, the utilities and, for errored ones, why; filtered."""
    m = analysis.filter_matches(load_matches(args.run), args.run, args.domain, args.agent, args.counterpart,
                                args.outcome)
    shown = m[["match_id", "ended_by", "value", "rounds", "focal_utility", "counterpart_utility"]].round(3)
    whole = {c: shown[c].round().astype("Int64") for c in ("value", "rounds")}  # 42, not 42.0
    shown = shown.assign(**whole, reason=leaderboards.error_reasons(m))
    if args.format == "table":  # a terminal line: the reason shortened, and left out when no match has one
        shown["reason"] = shown["reason"].map(lambda r: textwrap.shorten(r, REASON_WIDTH, placeholder=" ..."))
        shown = shown if shown["reason"].any() else shown.drop(columns="reason")
    print_table(shown.head(args.limit) if args.limit else shown, args.format)
    if args.format == "table" and args.limit and len(m) > args.limit:
        print(f"... {len(m) - args.limit} more (--limit 0 shows all)")
    return 0


def _number(value: Any) -> str:
    """A whole number without ".0", anything else to 3 decimals ("-" for none)."""
    if value is None or pd.isna(value):
        return "-"
    value = float(value) + 0.0
    return str(int(value)) if value.is_integer() else f"{value:.3f}"


def _sides(r: pd.Series) -> str:
    """Each side's target and reservation (private to it during the match), from the scenario."""
    try:
        scenario = get_scenario(r["domain"], r["scenario"])
    except (KeyError, ValueError):
        return ""
    unit = get_domain(r["domain"]).unit
    return "; ".join(f"{r[f'{kind}_role']} ({kind}): target {scenario.target[kind]} {unit}, reservation "
                     f"{scenario.reservation[kind]} {unit}" for kind in ("focal", "counterpart"))


def replay(run: str, match_id: str) -> int:
    m = load_matches(run)
    row = m[m["match_id"] == match_id]
    if row.empty:
        close = m[m["match_id"].str.contains(match_id.split("/")[-1], regex=False)]["match_id"].head(3).tolist()
        raise KeyError(f"no match {match_id!r} in {run}" + (f"; similar: {', '.join(close)}" if close else ""))
    r = row.iloc[0]
    print(f"{r['match_id']}  ({r['focal_agent']} as {r['focal_role']} vs {r['counterpart_agent']} as {r['counterpart_role']})")
    sides = _sides(r)
    if sides:
        print(sides)
    for i, move in enumerate(load_transcript(run, match_id), 1):
        who = r["focal_role"] if move["role"] == "focal" else r["counterpart_role"]
        value = f" {_number(move['value'])}" if move["value"] is not None else ""
        print(f"{i:2d}. {who} [{move['emotion']} -> sensed {move['sensed']}] {move['move']}{value}")
        print(textwrap.indent(textwrap.fill(move["message"], 96), "      "))
    print(ending(r))
    print(leaderboards.basis_caption(row))
    return 0


def ending(r: pd.Series) -> str:
    """How a match ended: the deal and both utilities, or why it errored."""
    reason = leaderboards.clean_reason(r.get("error"))
    if reason:
        attempts = f" after {_number(r.get('attempts'))} attempt(s)" if pd.notna(r.get("attempts")) else ""
        return f"-- ended by {r['ended_by']}{attempts}: {reason}"
    deal = f" at {_number(r['value'])} {get_domain(r['domain']).unit}" if pd.notna(r["value"]) else ", no deal"
    return (f"-- ended by {r['ended_by']}{deal}; utilities focal {_number(r['focal_utility'])} / counterpart "
            f"{_number(r['counterpart_utility'])}")


def vote_leaderboard(args: argparse.Namespace) -> int:
    """Ratings from people's blind votes (arena serve's Judge page), per criterion and role."""
    from arena.judging import load_votes

    from arena.study.data import vote_rules_for

    source = Path(args.human_votes or args.run)
    votes = load_votes(source)
    if votes.empty:
        raise ConfigError(f"no votes recorded in {source} yet")
    kept, dropped = leaderboards.vote_quality(votes, vote_rules_for(source))  # a study's checks, else the defaults
    if kept.empty:
        raise ConfigError(f"none of the {len(votes)} votes in {source} passes the checks: "
                          + "; ".join(f"{r.reason}: {r.votes}" for r in dropped.itertuples()))
    table = leaderboards.vote_leaderboard(kept, bootstrap=args.bootstrap)
    print_table(table.round({"rating": 1, "lower": 1, "upper": 1}), args.format)
    if args.format == "table":
        print("\n".join(table.attrs["notes"]))
        print(f"{len(kept)} of {len(votes)} votes rated" + ("; dropped: " + "; ".join(
            f"{r.reason}: {r.votes} votes from {r.raters} raters" for r in dropped.itertuples()) if len(dropped) else ""))
        print(leaderboards.agreement_note(leaderboards.rater_agreement(kept)))
    return 0


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "agents":
        return list_agents(args.long)
    if args.command == "domains":
        return list_domains()
    if args.command == "show":
        return show(args.run)
    if args.command == "replay":
        return replay(args.run, args.match_id)
    if args.command == "matches":
        return list_matches(args)
    if args.command == "compare":
        return analysis.compare_run(args.run, args.agents, args.baseline, args.metric, args.bootstrap, args.alpha,
                                    args.format, args.per_opponent)
    if args.command == "sensitivity":
        return analysis.sensitivity(args.run, args.agents, args.baseline, args.metric, args.bootstrap, args.alpha,
                                    args.format, args.workers)
    if args.command == "leaderboard" and args.human_votes is not None:
        return vote_leaderboard(args)
    matches = load_matches(args.run)
    if args.command == "leaderboard" and args.people:
        table = leaderboards.people_table(matches, bootstrap=args.bootstrap)
        print_table(table.round(3), args.format)
        if args.format == "table":
            print("\n".join(table.attrs["notes"]))
        return 0
    matches = leaderboards.agent_matches(matches, people=getattr(args, "with_people", False))  # people apart by default
    if args.command == "leaderboard":
        if args.metrics:
            print_metrics(matches, args.format)
            return 0
        table = leaderboards.leaderboard(matches, args.method, args.view, args.by, bootstrap=args.bootstrap)
        print_leaderboard(table, args.format, matches)
        return 0
    if args.command == "plot":
        out = Path(args.out or Path(args.run) / "report")
        for path in leaderboards.write_report(matches, out, on_warning=warn):
            print(path)
        return 0
    raise ConfigError(f"unknown command {args.command!r}")
