"""Playing one match: the environment, two agents behind the harness guards, and the match record."""
from __future__ import annotations

import time
from typing import Any, Callable

from agents import Agent, AgentSpec, Guard, Observation, ScenarioView, Turn
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


def _interventions(before: dict[str, int], guard: Guard) -> list[str]:
    """Which guard counters one move raised (e.g. ["clamped_offers"]): what the harness changed."""
    return [name for name, count in guard.stats.to_dict().items() if count > before[name]]


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
        guarded = guards[kind].stats.to_dict()
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
    record = outcome_record(match, env, agents, guards)
    record["duration_s"] = round(time.perf_counter() - start, 4)
    return record, transcript


# Per-role counters in a match record: model use (CallStats) and harness guard interventions (GuardStats).
COUNTERS = ("malformed", "retries", "transport_retries", "fallbacks", "requests", "cache_hits", "prompt_tokens",
            "completion_tokens", "oversized", "redactions", "clamped_offers", "blocked_accepts")


def base_record(match: MatchSpec) -> dict[str, Any]:
    domain = get_domain(match.domain)
    return {"match_id": match.match_id, "session_id": match.session_id, "domain": match.domain,
            "scenario": match.scenario_id, "split": match.split, "repeat": match.repeat, "seed": match.seed,
            "focal_seed": match.focal_seed, "counterpart_seed": match.counterpart_seed,
            "focal_agent": match.focal.display_name, "counterpart_agent": match.counterpart.display_name,
            "focal_role": domain.focal_role, "counterpart_role": domain.counterpart_role,
            "focal_backend": match.focal.resolved_backend.kind,
            "counterpart_backend": match.counterpart.resolved_backend.kind,
            "focal_model": match.focal.resolved_backend.model or "",
            "counterpart_model": match.counterpart.resolved_backend.model or "",
            # the llama.cpp build that computed the replies ("" for other backends): bit-identical only on the same
            "focal_build": backend_build(match.focal.resolved_backend),
            "counterpart_build": backend_build(match.counterpart.resolved_backend),
            "response_model": _response_model(match.counterpart)}


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
