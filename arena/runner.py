"""Running a tournament: sessions of matches, in-process or on Ray, written durably as they finish."""
from __future__ import annotations

import collections
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd

from agents import Agent, load_plugins, make_agent
from agents.llm import ConfigError, HostUnavailable
from agents.llm.factory import server_of
from arena.hosts import HostPlan
from arena.match import error_record, play
from arena.ray_local import llm_resource, start_ray, stop_ray
from arena.resume import _note_builds, open_run
from arena.schedule import Session, build_sessions
from arena.spec import TournamentSpec, resolve_backends
from arena.storage import Result, RunStore
from envs import COUNTERPART, FOCAL, NegotiationEnv, get_scenario


@dataclass(frozen=True)
class PlaySettings:
    """How matches are played (everything except who plays whom)."""

    max_messages: int
    taxonomy: str
    converge_within: int | None
    timeout_s: float
    retries: int


def _learns(agent: Agent) -> bool:
    return type(agent).on_outcome is not Agent.on_outcome


@dataclass
class SessionOutcome:
    """What a session returns: its finished matches, and the host that stopped answering if one did
    (the session's remaining matches were not played and go to another host)."""

    results: list[Result]
    lost_host: str | None = None
    why: str = ""


def run_session(session: Session, settings: PlaySettings, skip: frozenset[str]) -> SessionOutcome:
    """Play a session's matches with one pair of agent instances; finished ones in ``skip`` are not
    returned (agents that learn across negotiations replay them, so they learn the same sequence)."""
    load_plugins()
    agents = {FOCAL: make_agent(session.focal), COUNTERPART: make_agent(session.counterpart)}
    replay = any(_learns(a) for a in agents.values())
    first = get_scenario(session.domain, session.matches[0].scenario_id)
    env = NegotiationEnv(first, max_messages=settings.max_messages, taxonomy=settings.taxonomy,
                         converge_within=settings.converge_within)
    results = []
    for match in session.matches:
        if match.match_id in skip and not replay:
            continue
        scenario = get_scenario(match.domain, match.scenario_id)
        error = ""
        for attempt in range(1, settings.retries + 2):
            try:
                record, transcript = play(match, scenario, agents, env, settings.timeout_s)
                record["attempts"] = attempt
                break
            except ConfigError:
                raise
            except HostUnavailable as exc:  # not the match's fault: stop, keep what is finished
                return SessionOutcome(results, exc.host, str(exc))
            except Exception as exc:  # a failed match is recorded, never a loss for either side
                error = f"{type(exc).__name__}: {exc}"
        else:
            record, transcript = error_record(match, error, settings.retries + 1, agents), []
        if match.match_id not in skip:
            results.append(RunStore.encode(record, transcript))
    return SessionOutcome(results)


Job = tuple[Session, frozenset[str]]  # a session and its matches already finished


def _moved(job: Job, outcome: SessionOutcome, plan: HostPlan) -> Job:
    """What is left of a session whose host was lost, for another host (ConfigError if none is left)."""
    plan.lose(outcome.lost_host, outcome.why)
    session, skip = job
    return session, skip | {record["match_id"] for record, _ in outcome.results}


def _in_process(jobs: list[Job], settings: PlaySettings, plan: HostPlan) -> Iterator[list[Result]]:
    queue = collections.deque(jobs)
    while queue:
        session, skip = queue.popleft()
        outcome = run_session(plan.pin(session), settings, skip)
        yield outcome.results
        if outcome.lost_host:
            queue.appendleft(_moved((session, skip), outcome, plan))


def _session_resources(session: Session) -> dict[str, float]:
    hosts = {server_of(b) for b in (session.focal.resolved_backend, session.counterpart.resolved_backend)}
    return {llm_resource(h): 1 for h in hosts if h}


def _on_ray(jobs: list[Job], settings: PlaySettings, spec: TournamentSpec, plan: HostPlan,
            on_phase: Callable[[str], None] | None = None) -> Iterator[list[Result]]:
    import ray

    if on_phase:
        on_phase(f"starting Ray ({spec.workers} worker{'s' if spec.workers != 1 else ''})" if not spec.ray_address else f"joining Ray at {spec.ray_address}")
    hosts = plan.every_host | {h for h in (server_of(a.resolved_backend) for a in spec.agents) if h}
    session_handle = start_ray(spec.workers, {llm_resource(h): spec.llm_parallel for h in hosts}, spec.ray_address)
    try:
        available = ray.cluster_resources()
        task = ray.remote(max_retries=2)(run_session)
        pending = {}

        def submit(job: Job) -> None:
            pinned = plan.pin(job[0])
            resources = {k: v for k, v in _session_resources(pinned).items() if k in available}
            pending[task.options(num_cpus=1, resources=resources).remote(pinned, settings, job[1])] = job

        for job in jobs:
            submit(job)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            session, skip = pending.pop(done[0])
            try:
                outcome = ray.get(done[0])
                yield outcome.results
                if outcome.lost_host:
                    submit(_moved((session, skip), outcome, plan))
            except ray.exceptions.RayError as exc:
                cause = getattr(exc, "cause", None)
                if isinstance(cause, ConfigError):
                    raise cause from None
                reason = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
                yield [RunStore.encode(error_record(m, reason, 1), []) for m in session.matches if m.match_id not in skip]
    finally:
        stop_ray(session_handle)


def run_tournament(spec: TournamentSpec, out: str | Path,
                   on_result: Callable[[dict[str, Any]], None] | None = None,
                   on_start: Callable[[int, int], None] | None = None,
                   on_phase: Callable[[str], None] | None = None,
                   on_note: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Run (or resume) a tournament into ``out``; returns the match table. ``on_note`` hears about
    servers left out or lost, and finished matches another llama.cpp build computed (default: the
    ``arena`` logger)."""
    spec = resolve_backends(spec).validate()
    sessions = build_sessions(spec)
    out = Path(out)
    store = open_run(out, spec)
    try:
        done = store.finished
        jobs = [(s, frozenset(m.match_id for m in s.matches if m.match_id in done)) for s in sessions]
        jobs = [(s, skip) for s, skip in jobs if len(skip) < len(s.matches)]
        note = on_note or logging.getLogger("arena").warning
        plan = HostPlan(spec, note)
        if jobs:
            plan.preflight(spec)
        if jobs:
            _note_builds(out, store, spec, note)
        total = sum(len(s.matches) for s in sessions)
        if on_start:
            on_start(total, total - sum(len(s.matches) - len(skip) for s, skip in jobs))
        settings = PlaySettings(spec.max_messages, spec.taxonomy, spec.converge_within, spec.match_timeout,
                                spec.match_retries)
        stream = (_in_process(jobs, settings, plan) if spec.workers == 0
                  else _on_ray(jobs, settings, spec, plan, on_phase))
        for results in stream:
            store.append(results)
            for record, _ in results:
                if on_result:
                    on_result(record)
        return store.finalize()
    finally:
        store.close()
