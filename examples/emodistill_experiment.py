"""EmoDistill against random-emotion, vanilla and EQ-Negotiator: paired differences per domain.

The 20 test scenarios of each domain against the four counterpart personas, several repeats. All
focal agents concede on vanilla's schedule and meet the same personas with the same random
numbers, so a paired difference (same domain, scenario, persona and repeat) isolates the emotion
choice. Measures: the EmoDistill paper's utility (success rate x mean savings), the agreement rate
and the savings on agreements. Intervals are 95% cluster bootstraps (scenarios as clusters,
resampled within domains); p-values come from a sign-flip test over scenarios, Holm-adjusted over
every row printed.

What a difference can mean: on the scripted backend the personas respond to sensed emotion through
the response model (``--response-model``, default ``agents/data/response_model.toml``); EmoDistill's
selector was trained on data those same personas produced, so "EmoDistill - vanilla > 0" says the
selector learned what the table rewards. Under ``--response-model flat`` there is nothing to learn
and no difference should appear; under ``reversed`` a selector trained on the default should lose.
What it cannot mean: that EmoDistill negotiates better with people or with language models; that
needs model-backed counterparts, and the paper's CRAD 72.2 vs 5.0 is not a scripted-backend figure.

    python examples/emodistill_experiment.py [--repeats 3] [--domains credit,rescue,hospital,sleep]
        [--response-model default|flat|reversed]
"""
from __future__ import annotations

import argparse
import tempfile

import leaderboards
from agents import AgentSpec
from arena.runner import run_tournament
from arena.spec import TournamentSpec

FOCAL = ["emodistill", "random-emotion", "vanilla", "eq-negotiator"]
PERSONAS = ["vanilla-counterpart", "cheating", "threatening", "victim"]
PAIRS = [("emodistill", "vanilla"), ("emodistill", "random-emotion"), ("emodistill", "eq-negotiator"),
         ("random-emotion", "vanilla"), ("eq-negotiator", "vanilla")]
METRICS = ("emodistill_utility", "agreement", "savings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--domains", default="credit,rescue,hospital,sleep")
    parser.add_argument("--response-model", default="default")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    spec = TournamentSpec(agents=[AgentSpec(a) for a in FOCAL + PERSONAS], domains=args.domains.split(","),
                          split="test", repeats=args.repeats, workers=args.workers, response_model=args.response_model)
    with tempfile.TemporaryDirectory() as out:
        table = run_tournament(spec, out)
    result = leaderboards.compare(table, PAIRS, METRICS)
    print(f"paired differences A - B, test split, scripted backend, {args.repeats} repeats x 4 personas x 20 "
          f"scenarios per domain, response model {args.response_model!r}; x100 except p")
    for column in ("mean_a", "mean_b", "difference", "lower", "upper"):
        result[column] = 100 * result[column]
    shown = result.drop(columns=["role", "opponent"]).round({"mean_a": 1, "mean_b": 1, "difference": 2, "lower": 2,
                                                             "upper": 2, "p": 4, "p_holm": 4})
    print(shown.to_string(index=False))
    print(f"Holm-adjusted over {result.attrs['comparisons']} comparisons; {leaderboards.assumption_note(table)}")


if __name__ == "__main__":
    main()
