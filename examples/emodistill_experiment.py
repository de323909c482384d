"""EmoDistill vs random-emotion vs vanilla vs EQ-Negotiator against the counterpart personas.

The 20 test scenarios of each domain, scripted backend, several seeds (repeats). Per domain and
focal agent: success rate, outcome (savings on agreements), utility = success rate x mean outcome
(the EmoDistill paper's headline), and rounds, each with a 95% bootstrap interval (scenarios
resampled as clusters).

    python examples/emodistill_experiment.py [--repeats 3] [--domains credit,rescue,hospital,sleep]
"""
from __future__ import annotations

import argparse
import tempfile

import numpy as np
import pandas as pd

from agents import AgentSpec
from arena.runner import run_tournament
from arena.spec import TournamentSpec

FOCAL = ["emodistill", "random-emotion", "vanilla", "eq-negotiator"]
PERSONAS = ["vanilla-counterpart", "cheating", "threatening", "victim"]


def bootstrap(part: pd.DataFrame, stat, n: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    groups = [g for _, g in part.groupby("scenario")]
    rng = np.random.default_rng(seed)
    draws = [stat(pd.concat([groups[i] for i in rng.integers(0, len(groups), len(groups))])) for _ in range(n)]
    return stat(part), *np.nanpercentile(draws, [2.5, 97.5])


def success(part: pd.DataFrame) -> float:
    return float(part["agreement"].astype(float).mean())


def outcome(part: pd.DataFrame) -> float:
    saved = part.loc[part["agreement"].astype(bool), "focal_savings"]
    return float(saved.mean()) if len(saved) else float("nan")


def utility(part: pd.DataFrame) -> float:
    o = outcome(part)
    return success(part) * (0.0 if np.isnan(o) else o)


def rounds(part: pd.DataFrame) -> float:
    return float(part["rounds"].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--domains", default="credit,rescue,hospital,sleep")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    spec = TournamentSpec(agents=[AgentSpec(a) for a in FOCAL + PERSONAS], domains=args.domains.split(","),
                          split="test", repeats=args.repeats, workers=args.workers).validate()
    with tempfile.TemporaryDirectory() as out:
        table = run_tournament(spec, out)
    table = table[table["focal_agent"].isin(FOCAL) & table["counterpart_agent"].isin(PERSONAS)]
    print(f"test split, scripted backend, {args.repeats} seeds x 4 personas x 20 scenarios per cell; "
          f"95% cluster-bootstrap intervals; utility and outcome x 100")
    for domain, rows in table.groupby("domain"):
        lines = []
        for agent in FOCAL:
            part = rows[rows["focal_agent"] == agent]
            cells = {"agent": agent, "matches": len(part)}
            for name, stat, scale, fmt in (("success", success, 100, ".1f"), ("outcome", outcome, 100, ".1f"),
                                            ("utility", utility, 100, ".1f"), ("rounds", rounds, 1, ".1f")):
                mean, low, high = bootstrap(part, stat)
                cells[name] = f"{scale * mean:{fmt}} [{scale * low:{fmt}}, {scale * high:{fmt}}]"
            lines.append(cells)
        print(f"\n{domain}")
        print(pd.DataFrame(lines).to_string(index=False))


if __name__ == "__main__":
    main()
