"""Running a tournament: lanes of matches on threads or Ray actors, each match written durably as it finishes."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd

from agents.llm.factory import server_of
from arena.driver import Driver
from arena.executors import RayExecutor, ThreadExecutor
from arena.hosts import HostPlan
from arena.lanes import Execution, Lane, lanes_of, shares
from arena.ray_local import start_ray, stop_ray
from arena.resume import _note_builds, open_run
from arena.schedule import build_sessions
from arena.spec import TournamentSpec, resolve_backends
from arena.storage import Result
from arena.worker import PlaySettings


def _lanes(spec: TournamentSpec, done: set[str], execution: Execution) -> list[Lane]:
    """Every lane with a match left to record, longest first (a long session of an agent that
    learns then runs beside the short lanes rather than alone at the end)."""
    lanes = []
    for session in build_sessions(spec):
        skip = frozenset(m.match_id for m in session.matches if m.match_id in done)
        lanes.extend(lanes_of(session, skip, execution.split))
    return sorted(lanes, key=lambda lane: -len(lane.session.matches))


def _caps(spec: TournamentSpec, plan: HostPlan) -> dict[str, int]:
    """Every host a backend may talk to, with the run's cap on requests in flight to it."""
    hosts = plan.every_host | {h for h in (server_of(a.resolved_backend) for a in spec.agents) if h}
    return {h: spec.llm_parallel for h in hosts}


def _stream(spec: TournamentSpec, lanes: list[Lane], plan: HostPlan, execution: Execution,
            on_phase: Callable[[str], None] | None, on_gauges: Callable[[dict], None] | None
            ) -> Iterator[list[Result]]:
    """Results as lanes finish their matches, in-process (``workers = 0``) or on Ray."""
    settings = PlaySettings(spec.max_messages, spec.taxonomy, spec.converge_within, spec.match_timeout,
                            spec.match_retries)
    caps = _caps(spec, plan)
    handle, stopping = None, True
    if spec.workers == 0:
        executor = ThreadExecutor(shares(caps, 1, execution)[0], settings)
    else:
        if on_phase:
            on_phase(f"starting Ray ({spec.workers} worker{'s' if spec.workers != 1 else ''})"
                     if not spec.ray_address else f"joining Ray at {spec.ray_address}")
        handle = start_ray(spec.workers, None, spec.ray_address)
        executor = RayExecutor(shares(caps, spec.workers, execution), settings)
    try:
        driver = Driver(executor, plan, on_gauges)
        for lane in lanes:
            driver.add(lane)
        yield from driver.run()
        stopping = False
    finally:
        executor.close(stopping)
        if handle is not None:
            stop_ray(handle)


def run_tournament(spec: TournamentSpec, out: str | Path,
                   on_result: Callable[[dict[str, Any]], None] | None = None,
                   on_start: Callable[[int, int], None] | None = None,
                   on_phase: Callable[[str], None] | None = None,
                   on_note: Callable[[str], None] | None = None,
                   on_gauges: Callable[[dict], None] | None = None,
                   execution: Execution = Execution()) -> pd.DataFrame:
    """Run (or resume) a tournament into ``out``; returns the match table. ``on_note`` hears about
    servers left out or lost, and finished matches another llama.cpp build computed (default: the
    ``arena`` logger); ``on_gauges`` hears the served-model traffic (requests in flight, tokens)
    about twice a second."""
    spec = resolve_backends(spec).validate()
    out = Path(out)
    store = open_run(out, spec)
    try:
        lanes = _lanes(spec, store.finished, execution)
        note = on_note or logging.getLogger("arena").warning
        plan = HostPlan(spec, note)
        if lanes:
            plan.preflight(spec)
        if lanes:
            _note_builds(out, store, spec, note)
        total = sum(len(s.matches) for s in build_sessions(spec))
        if on_start:
            on_start(total, total - sum(lane.to_play for lane in lanes))
        for results in _stream(spec, lanes, plan, execution, on_phase, on_gauges) if lanes else ():
            store.append(results)
            for record, _ in results:
                if on_result:
                    on_result(record)
        return store.finalize()
    finally:
        store.close()
