"""Playing one match: the environment, two agents behind the harness guards, and the match record."""
from __future__ import annotations

import dataclasses
import functools
import operator
import time
from typing import Any, Callable

from agents import Agent, AgentSpec, Guard, GuardStats, Observation, ScenarioView, Turn
from agents.llm import CallStats
from agents.llm.factory import backend_build
from agents.sensing import shared_lexicon_sensor
from arena.schedule import MatchSpec, derive_seed
from envs import COUNTERPART, FOCAL, ROLE_KINDS, NegotiationEnv, Scenario, get_domain

class MatchTimeout(RuntimeError):
    """A match ran past its wall-clock budget."""


def _stats(agent: Agent) -> CallStats:
    return getattr(agent, "call_stats", None) or CallStats()


def _observation(env: NegotiationEnv, kind: str, public: list[Turn]) -> Observation:
    """The typed view of what ``env.observe(kind)`` holds, plus the public transcript."""
    other = COUNTERPART if kind == FOCAL else FOCAL
    return Observation(turn=len(public), messages_left=env.messages_left,
                       their_offer=env.last_offer[other], my_offer=env.last_offer[kind],
                       last_message=env.last_message_from(other), transcript=tuple(public))


def _counters(stats: CallStats) -> tuple[int, int, int]:
    return stats.prompt_tokens, stats.completion_tokens, stats.malformed


def _move_record(kind: str, action, before: tuple[int, int, int], after: tuple[int, int, int],
                 latency: float, guarded: list[str]) -> dict[str, Any]:
    return {"role": kind, "move": action.move, "value": action.value, "emotion": action.emotion,
            "sensed": shared_lexicon_sensor().label(action.message) if action.message else "neutral",
            "message": action.message, "prompt_tokens": after[0] - before[0],
            "completion_tokens": after[1] - before[1], "malformed": after[2] - before[2],
            "latency_s": round(latency, 4), "guard": guarded}


_GUARD_FIELDS = tuple(f.name for f in dataclasses.fields(GuardStats))
# the guard's counters as a tuple, read in C: it runs twice a move (GuardStats.to_dict deep-copies)
_guard_counts = operator.attrgetter(*_GUARD_FIELDS)


def _interventions(before: tuple[int, ...], guard: Guard) -> list[str]:
    """Which guard counters one move raised (e.g. ["clamped_offers"]): what the harness changed."""
    after = _guard_counts(guard.stats)
    return [] if after == before else [name for name, b, a in zip(_GUARD_FIELDS, before, after) if a > b]


def play(match: MatchSpec, scenario: Scenario, agents: dict[str, Agent], env: NegotiationEnv,
         timeout_s: float, on_move: Callable[[dict[str, Any]], None] | None = None
         ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Play one match in ``env`` (any scenario of the same domain) to the end; returns record and
    transcript. ``on_move`` hears each move's record as it is made (a live view, a partial transcript)."""
    start = time.perf_counter()
    env.reset(seed=match.seed, options={"scenario": scenario})
    max_messages, taxonomy = env.max_messages, env.taxonomy_name
    guards = {}
    for kind in ROLE_KINDS:
        view = ScenarioView.of(scenario, kind, max_messages, taxonomy, derive_seed(match.seed, kind, "speech"))
        agents[kind].reset(view, kind, match.agent_seed(kind))
        guards[kind] = Guard(view)
    asked = {kind: _model_calls(agents[kind]) for kind in ROLE_KINDS}
    public: list[Turn] = []
    transcript: list[dict[str, Any]] = []
    for kind in env.agent_iter():
        if env.terminations[kind] or env.truncations[kind]:
            env.step(None)
            continue
        if time.perf_counter() - start > timeout_s:
            raise MatchTimeout(f"match ran past its {timeout_s:.0f}s budget after {len(public)} messages")
        obs = _observation(env, kind, public)
        before, move_start = _counters(_stats(agents[kind])), time.perf_counter()
        guarded = _guard_counts(guards[kind].stats)
        action = agents[kind].act(obs)
        if getattr(agents[kind], "harness_guarded", True):  # a person's moves are checked, not rewritten
            action = guards[kind].apply(action, obs)
        env.step(action)
        public.append(Turn(kind, action.move, action.value, action.message))
        transcript.append(_move_record(kind, action, before, _counters(_stats(agents[kind])),
                                       time.perf_counter() - move_start, _interventions(guarded, guards[kind])))
        if on_move:
            on_move(transcript[-1])
    for agent in agents.values():
        agent.on_outcome(env.outcome)
    record = outcome_record(match, env, agents, guards) | backend_used(match, agents, asked, transcript)
    record["duration_s"] = round(time.perf_counter() - start, 4)
    return record, transcript


# Per-role counters in a match record: model use (CallStats) and harness guard interventions (GuardStats).
COUNTERS = ("malformed", "retries", "transport_retries", "rate_limited", "fallbacks", "requests", "cache_hits",
            "prompt_tokens", "cached_tokens", "completion_tokens", "oversized", "redactions", "clamped_offers",
            "blocked_accepts")


def base_record(match: MatchSpec) -> dict[str, Any]:
    domain = get_domain(match.domain)
    return {"match_id": match.match_id, "session_id": match.session_id, "domain": match.domain,
            "scenario": match.scenario_id, "split": match.split, "repeat": match.repeat, "seed": match.seed,
            "focal_seed": match.focal_seed, "counterpart_seed": match.counterpart_seed,
            "focal_agent": match.focal.display_name, "counterpart_agent": match.counterpart.display_name,
            "focal_role": domain.focal_role, "counterpart_role": domain.counterpart_role,
            # what each agent was given; play() replaces them with what it used (see backend_used)
            "focal_backend": match.focal.resolved_backend.kind,
            "counterpart_backend": match.counterpart.resolved_backend.kind,
            "focal_model": match.focal.resolved_backend.model or "",
            "counterpart_model": match.counterpart.resolved_backend.model or "",
            "focal_backend_configured": match.focal.resolved_backend.kind,
            "counterpart_backend_configured": match.counterpart.resolved_backend.kind,
            "focal_model_configured": match.focal.resolved_backend.model or "",
            "counterpart_model_configured": match.counterpart.resolved_backend.model or "",
            # the llama.cpp build that computed the replies ("" for other backends): bit-identical only on the same
            "focal_build": backend_build(match.focal.resolved_backend),
            "counterpart_build": backend_build(match.counterpart.resolved_backend),
            "response_model": _response_model(match.counterpart),
            "lost_host_retries": 0}  # re-sends spent on a host that was lost before the match finished elsewhere


def _model_calls(agent: Agent) -> tuple[int, int]:
    """The agent's backend (by identity) and the requests this agent has made through it so far (its
    own count where the registry built it; else the agent's call stats)."""
    backend = getattr(agent, "backend", None)
    asked = getattr(backend, "asked", None)
    return id(backend), int(asked if isinstance(asked, int) else _stats(agent).requests)


def backend_used(match: MatchSpec, agents: dict[str, Agent], asked: dict[str, tuple[int, int]],
                 transcript: list[dict[str, Any]]) -> dict[str, Any]:
    """What each agent's moves rested on: its backend's kind and model if that backend answered it in
    this match, "scripted" (rules and templates, no model) if it moved without asking one; as
    configured if it never moved. The configured ones stay in ``{role}_backend_configured``."""
    used = {}
    for kind in ROLE_KINDS:
        spec = (match.focal if kind == FOCAL else match.counterpart).resolved_backend
        backend = getattr(agents[kind], "backend", None)
        if not any(move["role"] == kind for move in transcript) or backend is None:
            continue
        before = asked[kind][1] if asked[kind][0] == id(backend) else 0
        if _model_calls(agents[kind])[1] > before and not backend.is_scripted:
            model = (spec.model or str(backend.model or "")) if backend.kind == spec.kind else str(backend.model or "")
            used |= {f"{kind}_backend": backend.kind, f"{kind}_model": model}
        else:
            used |= {f"{kind}_backend": "scripted", f"{kind}_model": ""}
    return used


def _response_model(agent: AgentSpec) -> str:
    """The response model a scripted counterpart followed ("" where none applies)."""
    return str(agent.params.get("response_model", "")) if agent.resolved_backend.kind == "scripted" else ""


def outcome_record(match: MatchSpec, env: NegotiationEnv, agents: dict[str, Agent],
                   guards: dict[str, Guard]) -> dict[str, Any]:
    """The flat row of ``matches.parquet`` for a finished match."""
    out = env.outcome
    record = base_record(match) | {
        "agreement": out.agreement, "value": out.value, "rounds": out.rounds, "ended_by": out.ended_by,
        "social_welfare": out.social_welfare, "nash_distance": out.nash_distance,
        "violation": None if out.violation is None else f"{out.violation.agent}.{out.violation.field}: {out.violation.reason}",
        "error": None, "attempts": 1}
    for kind in ROLE_KINDS:
        stats, guard = _stats(agents[kind]), guards[kind].stats
        record |= {f"{kind}_utility": out.utility[kind], f"{kind}_savings": out.savings[kind]}
        record |= {f"{kind}_{k}": getattr(guard if hasattr(guard, k) else stats, k) for k in COUNTERS}
    return record


MODEL_USE = ("requests", "cache_hits", "retries", "transport_retries", "rate_limited", "malformed", "fallbacks",
             "prompt_tokens", "completion_tokens", "oversized")  # CallStats counters an attempt spends


def model_use(agents: dict[str, Agent]) -> dict[str, int]:
    """What the agents' model use has cost in the current attempt (record keys)."""
    return {f"{kind}_{k}": int(getattr(_stats(agents[kind]), k, 0) or 0) for kind in ROLE_KINDS for k in MODEL_USE}


def with_earlier_attempts(record: dict[str, Any], earlier: dict[str, int]) -> dict[str, Any]:
    """The record with the model use of failed earlier attempts added, so every request and re-send a
    match cost is counted."""
    return record | {key: int(record.get(key) or 0) + spent for key, spent in earlier.items()}


def error_record(match: MatchSpec, error: str, attempts: int,
                 agents: dict[str, Agent] | None = None) -> dict[str, Any]:
    """The row for a match that failed every attempt: no outcome, never a loss for either side; the
    agents' model-use counters of the last attempt are kept, so failures stay in the failure rates."""
    record = base_record(match) | {"agreement": None, "value": None, "rounds": None, "ended_by": "error",
                                   "social_welfare": None, "nash_distance": None, "violation": None,
                                   "error": error, "attempts": attempts, "duration_s": None}
    for kind in ROLE_KINDS:
        record |= {f"{kind}_{k}": None for k in ("utility", "savings")}
        stats = _stats(agents[kind]) if agents else CallStats()
        record |= {f"{kind}_{k}": int(getattr(stats, k, 0) or 0) for k in COUNTERS}
    return record


def abandoned_record(match: MatchSpec, why: str, moves: int, agents: dict[str, Agent]) -> dict[str, Any]:
    """The row of a match a person left unfinished: no outcome (never a loss for either side, so it
    is kept out of ratings like an error), with ``ended_by = "abandoned"`` and the moves made."""
    return error_record(match, f"abandoned: {why}", 1, agents) | {"ended_by": "abandoned", "rounds": moves}


# Per-role fields the builders write that a record may lack: counters added over time, and fields
# added after runs were first recorded (a record logged before them is still a finished match).
OPTIONAL_PER_ROLE = (*COUNTERS, "backend_configured", "model_configured")


_KINDS = {bool: "true or false", int: "a number", float: "a number", str: "text"}


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), "")


@functools.cache
def record_schema() -> dict[str, tuple[str, bool, bool]]:
    """Each field of a match record: (its kind, whether it may be empty, whether a record must have
    it), derived from the builders: a scripted probe match gives each field's kind, its errored
    record which fields may be empty; so a field added to a builder is checked without a list here."""
    from agents import AgentSpec, make_agent
    from envs import load_scenarios

    scenario = load_scenarios("credit", "test")[0]
    spec = MatchSpec.at("probe", "probe", scenario, 0, 0, AgentSpec("vanilla"), AgentSpec("vanilla-counterpart"))
    agents = {FOCAL: make_agent(spec.focal), COUNTERPART: make_agent(spec.counterpart)}
    played, _ = play(spec, scenario, agents, NegotiationEnv(scenario, max_messages=4), timeout_s=60)
    errored = error_record(spec, "probe", 1)
    optional = {f"{kind}_{name}" for kind in ROLE_KINDS for name in OPTIONAL_PER_ROLE}
    return {key: (_kind(played[key]) or _kind(errored.get(key)), played[key] is None or errored.get(key) is None,
                  key not in optional) for key in played}


@functools.cache
def _checks() -> tuple[frozenset[str], tuple[tuple[str, frozenset[type], bool, str], ...]]:
    """The schema as (required fields, (field, value types allowed, may be empty, kind) per field)."""
    schema = record_schema()
    types = {kind: frozenset(t for t, k in _KINDS.items() if k == kind) for kind in set(_KINDS.values())}
    return (frozenset(key for key, (_, _, required) in schema.items() if required),
            tuple((key, types.get(kind, frozenset()), nullable, kind) for key, (kind, nullable, _) in schema.items()))


def record_problem(record: Any) -> str:
    """Why ``record`` is not a finished match's row ("" if it is one): a missing field, or a value of
    the wrong kind."""
    if not isinstance(record, dict):
        return "a record must be a table"
    required, checks = _checks()
    if not required <= record.keys():
        missing = [key for key in record_schema() if key in required and key not in record]
        return f"incomplete record: no {', '.join(missing[:3])}" + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
    for key, allowed, nullable, kind in checks:
        value = record.get(key)
        if value is None:
            if not nullable and key in record:
                return f"{key} is empty"
        elif allowed and type(value) not in allowed:
            return f"{key} is {str(value)[:40]!r}, not {kind}"
    return ""
