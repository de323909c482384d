"""Playing lanes in a worker: a lane's matches in order with one pair of agent instances, each
finished match reported the moment it ends (so it reaches the durable log as it finishes)."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterator

from agents import Agent, load_plugins, make_agent
from agents.llm import ConfigError, HostUnavailable, transport
from arena.lanes import Lane
from arena.match import error_record, model_use, play, with_earlier_attempts
from arena.schedule import MatchSpec
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


@dataclass(frozen=True)
class LaneEvent:
    """What a lane reports: a finished match, or the host it lost (then it stops; the rest moves)."""

    result: Result | None = None
    lost_host: str | None = None
    why: str = ""
    match_id: str = ""  # the match the host was lost in
    retries: int = 0  # re-sends spent on the lost host in it


_ENVS = threading.local()


def _env(match: MatchSpec, settings: PlaySettings) -> NegotiationEnv:
    """This thread's environment for the match's domain (reset per match; building one is slow)."""
    envs = _ENVS.__dict__.setdefault("by_key", {})
    key = (match.domain, settings.max_messages, settings.taxonomy, settings.converge_within)
    if key not in envs:
        envs[key] = NegotiationEnv(get_scenario(match.domain, match.scenario_id), max_messages=settings.max_messages,
                                   taxonomy=settings.taxonomy, converge_within=settings.converge_within)
    return envs[key]


def play_match(match: MatchSpec, agents: dict[str, Agent], settings: PlaySettings) -> Result:
    """One match, retried up to ``settings.retries`` times; a match that fails every attempt is
    recorded as errored (never a loss for either side). Host loss and usage errors propagate."""
    scenario = get_scenario(match.domain, match.scenario_id)
    error, earlier = "", dict.fromkeys(model_use(agents), 0)  # what failed attempts spent, kept in the record
    for attempt in range(1, settings.retries + 2):
        try:
            with transport.deadline(settings.timeout_s):
                record, transcript = play(match, scenario, agents, _env(match, settings), settings.timeout_s)
            record["attempts"] = attempt
            return RunStore.encode(with_earlier_attempts(record, earlier), transcript)
        except (ConfigError, HostUnavailable, transport.Stopped):
            raise
        except Exception as exc:  # a failed match is recorded, never a loss for either side
            error = f"{type(exc).__name__}: {exc}"
            if attempt <= settings.retries:
                earlier = {key: earlier[key] + spent for key, spent in model_use(agents).items()}
    record = error_record(match, error, settings.retries + 1, agents)
    return RunStore.encode(with_earlier_attempts(record, earlier), [])


def play_lane(lane: Lane, settings: PlaySettings) -> Iterator[LaneEvent]:
    """Play a lane's matches in order; finished ones in ``lane.skip`` are replayed unrecorded when an
    agent learns (so it learns the same sequence) and not played otherwise."""
    load_plugins()
    agents = {FOCAL: make_agent(lane.session.focal), COUNTERPART: make_agent(lane.session.counterpart)}
    for match in lane.session.matches:
        if transport.stopping():
            return
        if match.match_id in lane.skip and not lane.sticky:
            continue
        try:
            result = play_match(match, agents, settings)
        except HostUnavailable as exc:  # not the match's fault: stop here, the rest moves to another host
            yield LaneEvent(lost_host=exc.host, why=str(exc), match_id=match.match_id, retries=exc.retries)
            return
        except transport.Stopped:
            return
        if match.match_id not in lane.skip:
            yield LaneEvent(result)
