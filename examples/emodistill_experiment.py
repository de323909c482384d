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


def per_scenario(part: pd.DataFrame) -> pd.DataFrame:
    """Sums per scenario, so a bootstrap replicate is a weighted sum rather than a concatenation."""
    agreed = part["agreement"].astype(bool)
    return pd.DataFrame({"n": part.groupby("scenario").size(),
                         "agreed": agreed.groupby(part["scenario"]).sum(),
                         "saved": part["focal_savings"].where(agreed, 0.0).fillna(0.0).groupby(part["scenario"]).sum(),
                         "rounds": part.groupby("scenario")["rounds"].sum()})


def statistics(sums: np.ndarray) -> np.ndarray:
    """success, outcome (savings on agreements), utility, rounds from (..., 4) column sums."""
    n, agreed, saved, rounds = (sums[..., i] for i in range(4))
    success = agreed / n
    outcome = np.divide(saved, agreed, out=np.full_like(saved, np.nan), where=agreed > 0)
    return np.stack([success, outcome, success * np.nan_to_num(outcome), rounds / n], -1)


def bootstrap(part: pd.DataFrame, n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point estimates and 95% intervals, resampling scenarios as clusters."""
    table = per_scenario(part).to_numpy(float)
    weights = np.random.default_rng(seed).multinomial(len(table), np.full(len(table), 1 / len(table)), size=n)
    draws = statistics(weights @ table)
    return statistics(table.sum(0)), np.nanpercentile(draws, 2.5, axis=0), np.nanpercentile(draws, 97.5, axis=0)


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
            mean, low, high = bootstrap(part)
            for i, (name, scale) in enumerate((("success", 100), ("outcome", 100), ("utility", 100), ("rounds", 1))):
                cells[name] = f"{scale * mean[i]:.1f} [{scale * low[i]:.1f}, {scale * high[i]:.1f}]"
            lines.append(cells)
        print(f"\n{domain}")
        print(pd.DataFrame(lines).to_string(index=False))


if __name__ == "__main__":
    main()
