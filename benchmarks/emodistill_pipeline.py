"""Time the EmoDistill pipeline: an 8,000-trajectory sweep on the scripted backend (goal < 2 min on
2 cores) and 20,000 IQL steps on CPU (goal < 3 min).

    python benchmarks/emodistill_pipeline.py [--domain credit] [--rollouts 100] [--steps 20000]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from arena.training import dataset
from arena.training.iql import IQLConfig, train_iql


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", default="credit")
    parser.add_argument("--rollouts", type=int, default=100)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ed-bench-") as tmp:
        start = time.perf_counter()
        table = dataset.run_sweep(args.domain, Path(tmp) / "sweep", args.rollouts, 0, args.workers)
        sweep = time.perf_counter() - start
        data = dataset.build_transitions(Path(tmp) / "sweep", args.domain)
        total = time.perf_counter() - start
    print(f"sweep: {len(table)} trajectories in {sweep:.1f} s ({len(table) / sweep:.0f}/s, Ray start-up included); "
          f"with transition building {total:.1f} s, {len(data['actions'])} transitions (goal < 120 s)")
    start = time.perf_counter()
    train_iql(data, IQLConfig(steps=args.steps))
    elapsed = time.perf_counter() - start
    print(f"IQL: {args.steps} steps in {elapsed:.1f} s ({1000 * elapsed / args.steps:.1f} ms/step) (goal < 180 s)")


if __name__ == "__main__":
    main()
