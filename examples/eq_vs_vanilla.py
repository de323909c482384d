"""EQ-Negotiator vs vanilla as creditor against the plain, cheating, threatening and victim debtors.

Credit test split (20 scenarios), scripted backend, several seeds (repeats). Prints agreement rate,
mean creditor utility and mean rounds, each with a 95% bootstrap interval (scenarios resampled as
clusters). The two creditors share one concession schedule, so any difference comes from the
emotions they express and how the scripted debtors respond to them.

    python examples/eq_vs_vanilla.py [--repeats 5] [--backend scripted]
"""
from __future__ import annotations

import argparse
import tempfile

import numpy as np
import pandas as pd

from agents import AgentSpec
from agents.llm import BackendSpec
from arena.runner import run_tournament
from arena.spec import TournamentSpec

CREDITORS = ["eq-negotiator", "vanilla"]
DEBTORS = ["vanilla-counterpart", "cheating", "threatening", "victim"]


def cluster_bootstrap(frame: pd.DataFrame, column: str, n: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean and 95% interval, resampling scenarios with replacement."""
    groups = [g[column].astype(float).to_numpy() for _, g in frame.groupby("scenario")]
    rng = np.random.default_rng(seed)
    means = [np.concatenate([groups[i] for i in rng.integers(0, len(groups), len(groups))]).mean() for _ in range(n)]
    return float(frame[column].astype(float).mean()), *np.percentile(means, [2.5, 97.5])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backend", default="scripted", choices=["scripted", "llama-cpp"])
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    backend = BackendSpec(args.backend)
    spec = TournamentSpec(agents=[AgentSpec(a, backend=backend) for a in CREDITORS] + [AgentSpec(d) for d in DEBTORS],
                          domains=["credit"], split="test", repeats=args.repeats, workers=args.workers).validate()
    with tempfile.TemporaryDirectory() as out:
        table = run_tournament(spec, out)
    table = table[table["focal_agent"].isin(CREDITORS) & table["counterpart_agent"].isin(DEBTORS)]
    rows = []
    for (debtor, creditor), part in table.groupby(["counterpart_agent", "focal_agent"]):
        cells = {"debtor": debtor, "creditor": creditor, "matches": len(part)}
        for column, name in (("agreement", "agreement rate"), ("focal_utility", "creditor utility"), ("rounds", "rounds")):
            mean, low, high = cluster_bootstrap(part, column)
            cells[name] = f"{mean:.3f} [{low:.3f}, {high:.3f}]" if column != "rounds" else f"{mean:.1f} [{low:.1f}, {high:.1f}]"
        rows.append(cells)
    print(f"credit test split, {args.backend} backend, {args.repeats} seeds per pair; 95% cluster-bootstrap intervals")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
