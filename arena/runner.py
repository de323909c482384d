"""Running a tournament: lanes of matches on threads or Ray actors, each match written durably as it finishes."""
from __future__ import annotations

import collections
import hashlib
import json
import logging
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd

from agents.llm import ConfigError
from agents.llm.factory import backend_build, outcome_identity, server_of
from agents.response_model import response_model_identity
from arena.driver import Driver
from arena.executors import RayExecutor, ThreadExecutor
from arena.hosts import HostPlan
from arena.lanes import Execution, Lane, lanes_of, shares
from arena.ray_local import start_ray, stop_ray
from arena.schedule import SEED_SCHEME, build_sessions
from arena.spec import TournamentSpec, resolve_backends
from arena.storage import Result, RunStore
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


def fingerprint(spec: TournamentSpec) -> str:
    """What decides the set of matches and their outcomes (not how they are executed)."""
    keys = ("domains", "split", "scenarios", "repeats", "seed", "max_messages", "taxonomy", "converge_within")
    data = {k: v for k, v in asdict(spec).items() if k in keys}
    # an agent's backend decides outcomes through its kind and model (and llama-cpp's eval chunk); hosts,
    # threads, prefix reuse, cache and timeouts change how a run executes, so a resume may change them
    data["agents"] = [{"name": a.name, "label": a.display_name, "params": a.params,
                       "backend": outcome_identity(a.resolved_backend)} for a in spec.agents]
    data["response_model"] = response_model_identity(spec.response_model)
    data["seed_scheme"] = SEED_SCHEME
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _split_fixed(spec: TournamentSpec) -> TournamentSpec:
    """The same tournament with llama-cpp prompts cut at fixed positions, as runs before line splitting were."""
    agents = [replace(a, backend=replace(a.resolved_backend, eval_split="fixed"))
              if a.resolved_backend.kind == "llama-cpp" else a for a in spec.agents]
    return replace(spec, agents=agents)


def _check_resume(out: Path, spec: TournamentSpec) -> None:
    marker = out / "fingerprint.txt"
    recorded = marker.read_text().strip() if marker.exists() else None
    if recorded is not None and recorded != fingerprint(spec):
        if recorded == fingerprint(_split_fixed(spec)):
            raise ConfigError(f"{out} was evaluated with prompts cut every eval_chunk tokens (before line splitting); "
                              'resume it with eval_split = "fixed" in its agents\' llama-cpp backend tables')
        raise ConfigError(f"{out} holds a different tournament; use another --out or the same settings to resume")
    marker.write_text(fingerprint(spec) + "\n")
    (out / "tournament.toml").write_text(spec.to_toml(), encoding="utf-8")


def builds_elsewhere(records: dict[str, dict[str, Any]], here: set[str]) -> dict[str, int]:
    """Finished matches whose replies a llama.cpp build not in ``here`` computed (build: matches);
    replies are bit-identical only on the same build, so these may not replay the same here."""
    other: collections.Counter = collections.Counter()
    for record in records.values():
        if not record.get("error"):
            other.update({b for b in (record.get("focal_build"), record.get("counterpart_build")) if b and b not in here})
    return dict(other)


def _note_builds(out: Path, store: RunStore, spec: TournamentSpec, note: Callable[[str], None]) -> None:
    here = {backend_build(a.resolved_backend) for a in spec.agents} - {""}
    for build, count in builds_elsewhere(store.records, here).items():
        note(f"{count} finished match(es) in {out} were computed by {build}; this process has "
             f"{', '.join(sorted(here)) or 'no llama.cpp'}: they stand as recorded, but replies are bit-identical "
             "only on the same build and CPU features, so a rerun here (or an agent that learns replaying them) "
             "may not reproduce them")


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
    store = RunStore(out)
    try:
        lanes = _lanes(spec, store.finished, execution)
        note = on_note or logging.getLogger("arena").warning
        plan = HostPlan(spec, note)
        if lanes:
            plan.preflight(spec)
        _check_resume(out, spec)
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
