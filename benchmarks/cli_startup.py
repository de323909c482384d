"""How fast the CLI answers: ``arena --help`` and ``arena agents`` against a bare Python start-up,
measured in the same run (median of N runs each). Goal: ``arena --help`` under 0.5 s.

    python benchmarks/cli_startup.py [--runs 7]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {"python -c pass (baseline)": [sys.executable, "-c", "pass"],
            "arena --help": [sys.executable, "-m", "arena.cli", "--help"],
            "arena agents": [sys.executable, "-m", "arena.cli", "agents"]}


def median_seconds(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    results = {name: median_seconds(command, args.runs) for name, command in COMMANDS.items()}
    baseline = results["python -c pass (baseline)"]
    for name, seconds in results.items():
        print(f"{name:28s} {seconds:6.3f} s  ({seconds / baseline:5.1f}x the bare interpreter)")
    print(f"goal: arena --help under 0.5 s -> {'met' if results['arena --help'] < 0.5 else 'not met'}")


if __name__ == "__main__":
    main()
