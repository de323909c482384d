"""Matches per second on the scripted backend with the classic baselines: in-process, Ray with 1 worker,
Ray with 2 workers; and NegMAS's SAOMechanism (Boulware vs Conceder, one issue, 30 steps) in the same run.

    pip install negmas   # optional: the 'bench' extra
    python benchmarks/tournament_throughput.py [--repeats 1]

Ray timings run from the first to the last finished match of the measured tournament; Ray start-up
and worker warm-up (a small tournament on the same instance first) are printed separately. Every
match is still written durably to the run directory. In-process and NegMAS rates are also given per
CPU second of this process: on a machine shared with other work, wall-clock rates move with the
load and CPU-time rates much less, so compare those between runs.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from agents import AgentSpec
from arena.ray_local import RaySession, start_ray, stop_ray
from arena.runner import run_tournament
from arena.spec import TournamentSpec

BASELINES = ["boulware", "conceder", "linear", "tit-for-tat"]


class Clock:
    """Times a tournament from its start callback to its last finished match, in wall-clock time and
    in this process's CPU time."""

    def __init__(self) -> None:
        self.start = self.end = self.cpu_start = self.cpu_end = 0.0
        self.count = 0

    def on_start(self, total: int, already: int) -> None:
        self.start, self.cpu_start = time.perf_counter(), time.process_time()

    def on_result(self, record: dict) -> None:
        self.count += 1
        self.end, self.cpu_end = time.perf_counter(), time.process_time()


def arena_rate(workers: int, repeats: int, root: Path) -> tuple[float, int, float, float]:
    """Matches per second, then start-up time and matches per CPU second of this process (for Ray,
    start-up and worker warm-up, a small tournament first, are not timed)."""
    agents = [AgentSpec(a) for a in BASELINES]
    spec = TournamentSpec(agents=agents, split="all", repeats=repeats, workers=workers)
    startup = 0.0
    if workers:
        began = time.perf_counter()
        handle = start_ray(workers)
        warm_up = TournamentSpec(agents=agents, domains=["credit"], scenarios=workers, workers=workers)
        run_tournament(warm_up, root / f"warm{workers}")
        startup = time.perf_counter() - began
    clock = Clock()
    run_tournament(spec, root / f"w{workers}", on_result=clock.on_result, on_start=clock.on_start)
    if workers:
        stop_ray(RaySession(owned=True, temp_dir=handle.temp_dir))
    return (clock.count / (clock.end - clock.start), clock.count, startup,
            clock.count / max(clock.cpu_end - clock.cpu_start, 1e-9))


def negmas_rate(n: int) -> tuple[float, float] | None:
    """NegMAS negotiations per second and per CPU second (None if NegMAS is not installed)."""
    try:
        from negmas import SAOMechanism, make_issue
        from negmas.preferences import LinearAdditiveUtilityFunction as LinearUtility
        from negmas.sao import BoulwareTBNegotiator, ConcederTBNegotiator
    except ImportError:
        return None
    issues = [make_issue(name="days", values=365)]
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(n):
        mechanism = SAOMechanism(issues=issues, n_steps=30)
        low = LinearUtility(values={"days": lambda x: 1.0 - x / 364}, issues=issues, reserved_value=0.2)
        high = LinearUtility(values={"days": lambda x: x / 364}, issues=issues, reserved_value=0.2)
        mechanism.add(BoulwareTBNegotiator(name="creditor"), ufun=low)
        mechanism.add(ConcederTBNegotiator(name="debtor"), ufun=high)
        mechanism.run()
    return n / (time.perf_counter() - start), n / (time.process_time() - cpu_start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="6,400 matches per repeat")
    parser.add_argument("--negmas", type=int, default=300, help="NegMAS negotiations to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        rates, cpu_rate = {}, 0.0
        for workers in (0, 1, 2):
            rate, count, startup, cpu = arena_rate(workers, args.repeats, Path(tmp))
            rates[workers] = rate
            cpu_rate = cpu if workers == 0 else cpu_rate
            label = "in-process" if workers == 0 else f"Ray, {workers} worker{'s' if workers > 1 else ''}"
            extra = f" (Ray start-up and worker warm-up {startup:.1f} s not counted)" if workers else ""
            print(f"eq-arena {label:15s}: {rate:7.1f} matches/s over {count} matches{extra}")
        print(f"eq-arena in-process by CPU time: {cpu_rate:7.1f} matches per CPU second")
    print(f"Ray speedup 1 -> 2 workers: {rates[2] / rates[1]:.2f}x (goal >= 1.8x)")
    measured = negmas_rate(args.negmas)
    if measured is None:
        print("NegMAS not installed (pip install negmas); no comparison")
        return
    negmas, negmas_cpu = measured
    print(f"NegMAS SAOMechanism Boulware vs Conceder, 30 steps: {negmas:7.1f} negotiations/s (1 core), "
          f"{negmas_cpu:.1f} per CPU second")
    print(f"per core: eq-arena in-process / NegMAS = {rates[0] / negmas:.2f}x; "
          f"Ray 2 workers per core / NegMAS = {rates[2] / 2 / negmas:.2f}x (goal >= 5x)")
    print(f"per CPU second: eq-arena in-process / NegMAS = {cpu_rate / negmas_cpu:.2f}x (steadier under load)")


if __name__ == "__main__":
    main()
