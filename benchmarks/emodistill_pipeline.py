"""Time the EmoDistill pipeline: an 8,000-trajectory sweep on the scripted backend (goal < 2 min on
2 cores) and 20,000 IQL steps on CPU (goal < 3 min), with the straightforward three-network IQL
update (benchmarks/iql_reference.py) as the baseline, measured in the same run.

    python benchmarks/emodistill_pipeline.py [--domain credit] [--rollouts 100] [--steps 20000]
    python benchmarks/emodistill_pipeline.py --transitions runs/emodistill/credit/transitions.npz
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from arena.training import dataset
from arena.training.iql import IQLConfig, keep_freed_memory, train_iql
from arena.training.iql_trainer import IQLTrainer

sys.path.insert(0, str(Path(__file__).parent))
from iql_reference import ReferenceIQL


def time_sweep(args: argparse.Namespace) -> dict[str, np.ndarray]:
    with tempfile.TemporaryDirectory(prefix="ed-bench-") as tmp:
        start = time.perf_counter()
        table = dataset.run_sweep(args.domain, Path(tmp) / "sweep", args.rollouts, 0, args.workers)
        sweep = time.perf_counter() - start
        data = dataset.build_transitions(Path(tmp) / "sweep", args.domain)
        total = time.perf_counter() - start
    print(f"sweep: {len(table)} trajectories in {sweep:.1f} s ({len(table) / sweep:.0f}/s, Ray start-up included); "
          f"with transition building {total:.1f} s, {len(data['actions'])} transitions (goal < 120 s)")
    return data


def compare_with_reference(data: dict[str, np.ndarray], rounds: int, steps: int) -> None:
    """Alternate short blocks of both implementations, so a change in the machine's speed hits both."""
    trainers = {"stacked (arena)": IQLTrainer(data, IQLConfig()), "three nn.Sequential": ReferenceIQL(data)}
    times: dict[str, list[float]] = {name: [] for name in trainers}
    for _ in range(rounds):
        for name, trainer in trainers.items():
            start = time.perf_counter()
            for _ in range(steps):
                trainer.step()
            times[name].append(1000 * (time.perf_counter() - start) / steps)
    medians = {name: float(np.median(t)) for name, t in times.items()}
    for name, ms in medians.items():
        print(f"IQL step, {name}: median {ms:.2f} ms over {rounds} blocks of {steps} "
              f"(range {min(times[name]):.2f}-{max(times[name]):.2f})")
    print(f"ratio reference / stacked: {medians['three nn.Sequential'] / medians['stacked (arena)']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", default="credit")
    parser.add_argument("--rollouts", type=int, default=100)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--transitions", type=Path, help="skip the sweep and train on this transitions.npz")
    parser.add_argument("--compare-rounds", type=int, default=10, help="blocks per implementation (0: skip)")
    args = parser.parse_args()
    if args.transitions:
        with np.load(args.transitions) as npz:
            data = {k: npz[k] for k in npz.files}
    else:
        data = time_sweep(args)
    keep_freed_memory()  # train_iql does this too; set here so the comparison runs under the same allocator
    if args.compare_rounds:
        compare_with_reference(data, args.compare_rounds, 200)
    start = time.perf_counter()
    train_iql(data, IQLConfig(steps=args.steps))
    elapsed = time.perf_counter() - start
    print(f"IQL: {args.steps} steps in {elapsed:.1f} s ({1000 * elapsed / args.steps:.2f} ms/step) (goal < 180 s)")


if __name__ == "__main__":
    main()
