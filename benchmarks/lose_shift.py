"""How often EQ-Negotiator's lose-shift fires under each reading, on the sessions a tournament plays.

Plays the same sessions as ``arena tournament`` (same schedule, seeds and learning across a
session's negotiations, in-process) with eq-negotiator under lose_shift = "own-payoff" (as
published) and "reply-payoff" (this project's earlier reading), and prints, per reading, the
focal turns, best-response turns and the share where the shift fired. The outcome effect is measured with a
paired tournament (docs/papers/eq-negotiator.md gives the commands).

    python benchmarks/lose_shift.py --domains credit --repeats 3
"""
from __future__ import annotations

import argparse
import sys

from agents import AgentSpec, load_plugins, make_agent
from arena.match import play
from arena.schedule import build_sessions
from arena.spec import TournamentSpec, resolve_backends
from envs import COUNTERPART, DOMAINS, FOCAL, NegotiationEnv, get_scenario

READINGS = ("own-payoff", "reply-payoff")
COUNTERPARTS = ("vanilla-counterpart", "cheating", "threatening", "victim")


def count_shifts(reading: str, domains: list[str], repeats: int, counterparts: list[str]) -> dict[str, int]:
    """Best-response turns, shifted turns and matches over every session of the tournament."""
    agents = [AgentSpec("eq-negotiator", {"lose_shift": reading})] + [AgentSpec(c) for c in counterparts]
    spec = resolve_backends(TournamentSpec(agents=agents, domains=domains, repeats=repeats, workers=0).validate())
    totals = {"turns": 0, "best_response": 0, "shifted": 0, "matches": 0, "agreements": 0}
    for session in build_sessions(spec):
        pair = {FOCAL: make_agent(session.focal), COUNTERPART: make_agent(session.counterpart)}
        env = NegotiationEnv(get_scenario(session.domain, session.matches[0].scenario_id),
                             max_messages=spec.max_messages, taxonomy=spec.taxonomy)
        for match in session.matches:
            record, _ = play(match, get_scenario(match.domain, match.scenario_id), pair, env, spec.match_timeout)
            totals["matches"] += 1
            totals["turns"] += len(pair[FOCAL].expressed)
            totals["agreements"] += bool(record["agreement"])
        for key in ("best_response", "shifted"):
            totals[key] += pair[FOCAL].shift_counts[key]
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", default="credit", help="comma-separated domains (default credit)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--counterparts", default=",".join(COUNTERPARTS))
    args = parser.parse_args(argv)
    domains = [d for d in args.domains.split(",") if d]
    if not domains or any(d not in DOMAINS for d in domains) or args.repeats < 1:
        print(f"usage: --domains from {', '.join(DOMAINS)}, --repeats at least 1", file=sys.stderr)
        return 2
    load_plugins()
    print(f"domains {','.join(domains)}, test split, {args.repeats} repeats, counterparts {args.counterparts}, "
          "scripted backend, default response model")
    for reading in READINGS:
        t = count_shifts(reading, domains, args.repeats, args.counterparts.split(","))
        print(f"lose_shift={reading:<13} turns {t['turns']:5d}  best-response {t['best_response']:5d}  "
              f"shifted {t['shifted']:4d} ({t['shifted'] / max(1, t['turns']):.1%} of turns, "
              f"{t['shifted'] / max(1, t['best_response']):.1%} of best responses)  "
              f"agreements {t['agreements']}/{t['matches']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
