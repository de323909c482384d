"""EQ-Negotiator vs vanilla as creditor against the plain, cheating, threatening and victim debtors:
paired differences, per debtor and overall.

Credit test split (20 scenarios), several repeats. Both creditors face the same debtor on the same
scenario and repeat with the same random numbers (the debtors' draws do not depend on who they
face), and both concede on one schedule, so a paired difference EQ - vanilla isolates the emotions
EQ-Negotiator expresses. Intervals are 95% t-intervals on the scenario totals; p-values come from a
sign-flip test over scenarios and are Holm-adjusted within each declared family (the overall row is
the primary family, the rows per debtor the per-opponent family).

What a difference can mean: on the scripted backend, the debtors respond to the emotion they sense
through the response model (``--response-model``; default ``agents/data/response_model.toml``), so a
difference measures what that table rewards, not how people or language models respond. Run it with
``--response-model flat`` (emotion has no effect) and ``reversed``: a difference that vanishes or
flips is the table's, not the strategy's. What it cannot mean: that EQ-Negotiator persuades better;
that needs model-backed debtors (``--backend llama-cpp`` or a served model), and SmolLM2, the
embedded default, is too weak to judge strategies.

    python examples/eq_vs_vanilla.py [--repeats 5] [--response-model default|flat|reversed]
"""
from __future__ import annotations

import argparse
import tempfile

import leaderboards
from leaderboards.compare import family_notes
from agents import AgentSpec
from agents.llm import BackendSpec
from arena.runner import run_tournament
from arena.spec import TournamentSpec

CREDITORS = ["eq-negotiator", "vanilla"]
DEBTORS = ["vanilla-counterpart", "cheating", "threatening", "victim"]
METRICS = ("utility", "agreement", "rounds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backend", default="scripted", choices=["scripted", "llama-cpp"])
    parser.add_argument("--response-model", default="default")
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    backend = BackendSpec(args.backend)
    agents = [AgentSpec(a, backend=backend) for a in CREDITORS] + [AgentSpec(d, backend=backend) for d in DEBTORS]
    spec = TournamentSpec(agents=agents, domains=["credit"], split="test", repeats=args.repeats, workers=args.workers,
                          response_model=args.response_model)
    with tempfile.TemporaryDirectory() as out:
        table = run_tournament(spec, out)
    table = table[table["counterpart_agent"].isin(DEBTORS)]
    result = leaderboards.compare(table, [("eq-negotiator", "vanilla")], METRICS, per_opponent=True)
    result = result[result["domain"] == "credit"].drop(columns=["agent", "baseline", "role", "domain"])
    print(f"EQ-Negotiator - vanilla (creditor), credit test split, {args.backend} backend, {args.repeats} repeats, "
          f"response model {args.response_model!r}")
    print(result.round(4).to_string(index=False))
    print("\n".join(family_notes(result) + [leaderboards.basis_caption(table)]))


if __name__ == "__main__":
    main()
