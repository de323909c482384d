"""What each ``arena`` subcommand does (the parser lives in cli.py)."""
from __future__ import annotations

import argparse
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
from envs import DOMAINS


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
    matches; the bar (and so its ETA) starts with the first finished match, not during start-up."""

    def __init__(self, quiet: bool):
        self.quiet, self.bar = quiet, None
        self.errored = self.agreed = 0
        self.total = self.already = 0

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
            self.bar.set_postfix(agreed=self.agreed, errored=self.errored, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def tournament(config: str | None, overrides: dict[str, Any], out: str, bootstrap: int, quiet: bool) -> int:
    spec = build_spec(config, overrides)
    for note in spec.notes():
        print(f"note: {note}")
    progress = Progress(quiet)
    try:
        matches = run_tournament(spec, out, on_result=progress.update, on_start=progress.start,
                                 on_phase=progress.phase, on_note=lambda text: print(f"warning: {text}", file=sys.stderr))
    finally:
        progress.close()
    progress.phase(f"rating ({bootstrap} bootstrap resamples)")
    print(f"\n{len(matches)} matches in {out} ({progress.errored} errored this run)")
    print(f"response model for scripted counterparts: {spec.response_model!r}")
    print_leaderboard(leaderboards.leaderboard(matches, by="all", bootstrap=bootstrap), "table")
    print(f"per domain: arena leaderboard {out}; paired differences: arena compare {out} --baseline vanilla")
    if len(matches):
        print(f"transcripts: arena matches {out} lists ids; e.g. arena replay {out} '{matches['match_id'].iloc[0]}'")
    progress.phase("writing the report and plots")
    written = leaderboards.write_report(matches, Path(out) / "report", bootstrap=bootstrap)
    if written:
        print(f"leaderboard and plots written to {Path(out) / 'report'}")
    return 0


LEADERBOARD_COLUMNS = ("domain", "role", "rank", "agent", "rating", "lower", "upper", "agreement_rate", "battles",
                       "order")


def print_leaderboard(table: pd.DataFrame, fmt: str) -> None:
    """The table, then (in table format) its notes: role linking, order dependence, thin data, assumptions."""
    notes = table.attrs.get("notes", [])
    columns = [c for c in LEADERBOARD_COLUMNS if c in table and not (c == "order" and fmt == "table")]
    table = table[columns].round({"rating": 1, "lower": 1, "upper": 1, "agreement_rate": 3}) if len(table) else table
    print_table(table, fmt)
    if fmt == "table":
        for note in notes:
            print(note)


def list_agents() -> int:
    load_plugins()
    rows = []
    for name in sorted(REGISTRY):
        entry = REGISTRY[name]
        cls = entry.agent_class
        roles = ", ".join(sorted(cls.roles)) + ("" if cls.domains is None else f" ({', '.join(sorted(cls.domains))})")
        rows.append({"name": name, "roles": roles, "source": entry.source,
                     "description": textwrap.shorten(cls.description or (cls.__doc__ or ""), 70)})
    print(pd.DataFrame(rows).to_string(index=False))
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
    note = leaderboards.assumption_note(m)
    abandoned = int(leaderboards.abandoned(m).sum())
    print(f"run {run}: {len(m)} matches, {len(m) - len(ok) - abandoned} errored, {abandoned} abandoned by people, "
          f"domains {', '.join(sorted(m['domain'].unique()))}")
    print(f"agreement rate {ok['agreement'].astype(float).mean():.3f}, mean rounds {ok['rounds'].mean():.1f}")
    print(ok.groupby("ended_by").size().rename("matches").to_string())
    print()
    print(leaderboards.metrics_table(m).round(3).to_string(index=False))
    if note:
        print(f"\n{note}")
    return 0


def list_matches(args: argparse.Namespace) -> int:
    """Match ids with who played, how it ended and the utilities, filtered."""
    m = analysis.filter_matches(load_matches(args.run), args.run, args.domain, args.agent, args.counterpart,
                                args.outcome)
    shown = m[["match_id", "ended_by", "value", "rounds", "focal_utility", "counterpart_utility"]].round(3)
    print_table(shown.head(args.limit) if args.limit else shown, args.format)
    if args.format == "table" and args.limit and len(m) > args.limit:
        print(f"... {len(m) - args.limit} more (--limit 0 shows all)")
    return 0


def replay(run: str, match_id: str) -> int:
    m = load_matches(run)
    row = m[m["match_id"] == match_id]
    if row.empty:
        close = m[m["match_id"].str.contains(match_id.split("/")[-1], regex=False)]["match_id"].head(3).tolist()
        raise KeyError(f"no match {match_id!r} in {run}" + (f"; similar: {', '.join(close)}" if close else ""))
    r = row.iloc[0]
    print(f"{r['match_id']}  ({r['focal_agent']} as {r['focal_role']} vs {r['counterpart_agent']} as {r['counterpart_role']})")
    for i, move in enumerate(load_transcript(run, match_id), 1):
        who = r["focal_role"] if move["role"] == "focal" else r["counterpart_role"]
        value = f" {move['value']}" if move["value"] is not None else ""
        print(f"{i:2d}. {who} [{move['emotion']} -> sensed {move['sensed']}] {move['move']}{value}")
        print(textwrap.indent(textwrap.fill(move["message"], 96), "      "))
    print(f"-- ended by {r['ended_by']}, value {r['value']}, utilities focal {r['focal_utility']} / counterpart {r['counterpart_utility']}")
    return 0


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
        return list_agents()
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
            print_table(leaderboards.metrics_table(matches).round(3), args.format)
            return 0
        table = leaderboards.leaderboard(matches, args.method, args.view, args.by, bootstrap=args.bootstrap)
        print_leaderboard(table, args.format)
        if table.attrs.get("errored_excluded"):
            print(f"({table.attrs['errored_excluded']} errored matches excluded)")
        return 0
    if args.command == "plot":
        out = Path(args.out or Path(args.run) / "report")
        for path in leaderboards.write_report(matches, out):
            print(path)
        return 0
    raise ConfigError(f"unknown command {args.command!r}")
