"""People against agents: live matches played by the same environment and guards as tournament
matches, in a thread each, and recorded in a run directory like any other match."""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agents import AgentSpec, ScenarioView, get_entry, load_plugins, make_agent
from agents.human import Abandoned, MoveChannel, close_channel, open_channel
from agents.llm import BackendSpec, ConfigError
from arena.match import abandoned_record, error_record, play
from arena.schedule import MatchSpec, derive_seed
from arena.spec import TournamentSpec, resolve_backends
from arena.storage import RunStore
from envs import COUNTERPART, FOCAL, MAX_MESSAGE_CHARS, MOVES, Action, NegotiationEnv, Scenario, load_scenarios

HUMAN = "human"  # the label every person plays under: people are rated together, against the agents


@dataclass(frozen=True)
class PlayRequest:
    """What a person chose on the Play page; ``scenario`` None means a random one."""

    domain: str
    kind: str  # the person's role kind
    opponent: str  # an agent label of the run, or a registered agent name
    backend: str
    scenario: str | None = None


class Opponents:
    """Who a person can play: the run's agents as configured there, and every other registered agent
    (plugins included), on the run's backends or the ones the server was given."""

    def __init__(self, spec: TournamentSpec, extra: dict[str, BackendSpec] | None = None):
        load_plugins()
        self.spec = resolve_backends(spec)
        self.by_label = {a.display_name: a for a in self.spec.agents}
        self.backends = {"scripted": BackendSpec("scripted")}
        for agent in self.spec.agents:
            self.backends.setdefault(agent.resolved_backend.kind, agent.resolved_backend)
        self.backends.update(extra or {})

    def names(self, domain: str, kind: str) -> list[str]:
        """Opponents for a person in role ``kind``: they play the other role."""
        from agents import REGISTRY

        other = COUNTERPART if kind == FOCAL else FOCAL
        labels = [label for label, a in self.by_label.items() if get_entry(a.name).agent_class.can_play(domain, other)]
        more = [name for name, entry in sorted(REGISTRY.items()) if name not in self.by_label and
                not getattr(entry.agent_class, "interactive", False) and entry.agent_class.can_play(domain, other)]
        return labels + more

    def default_backend(self, label: str) -> str:
        agent = self.by_label.get(label)
        return agent.resolved_backend.kind if agent else self.spec.backend if self.spec.backend in self.backends else "scripted"

    def spec_for(self, label: str, backend: str) -> AgentSpec:
        """The opponent's spec: exactly the run's when it plays on the run's backend (so the match pairs
        with the run's matches), else the agent on the chosen backend under a label that says so."""
        if backend not in self.backends:
            raise ConfigError(f"backend {backend!r} is not configured on this server; choose {', '.join(self.backends)}")
        agent = self.by_label.get(label)
        if agent is not None and agent.resolved_backend.kind == backend:
            return agent
        base = agent or AgentSpec(label)
        get_entry(base.name)
        params = {k: v for k, v in base.params.items() if k not in ("temperature", "max_tokens")}
        tag = label if backend == self.default_backend(label) and agent is None else f"{label}@{backend}"
        return resolve_backends(replace(self.spec, agents=[AgentSpec(base.name, params, self.backends[backend], tag)])).agents[0]


def person_action(form: dict[str, str], view: ScenarioView, their_offer: int | None) -> Action:
    """The person's move from the form, or a ValueError saying what is wrong with it."""
    move = form.get("move", "")
    if move not in MOVES:
        raise ValueError(f"choose a move: {', '.join(MOVES)}")
    emotion = form.get("emotion", "neutral")
    if emotion not in view.emotions:
        raise ValueError(f"unknown emotion {emotion!r}")
    message = form.get("message", "").strip()
    if len(message) > MAX_MESSAGE_CHARS:
        raise ValueError(f"the message is {len(message)} characters long; at most {MAX_MESSAGE_CHARS}")
    if move == "accept" and their_offer is None:
        raise ValueError("there is no offer to accept yet")
    if move != "offer":
        return Action(move, None, emotion, message)
    domain = view.domain
    try:
        value = int(form.get("value", "").strip())
    except ValueError:
        raise ValueError(f"an offer needs a whole number of {domain.unit} between {domain.low} and {domain.high}") from None
    if not domain.low <= value <= domain.high:
        raise ValueError(f"an offer must lie between {domain.low} and {domain.high} {domain.unit}, not {value}")
    return Action.offer(value, emotion, message)


@dataclass
class LiveMatch:
    """One person's match in progress: the channel their moves go through, the moves so far, the record."""

    live_id: str
    person: str
    match: MatchSpec
    scenario: Scenario
    kind: str
    view: ScenarioView
    channel: MoveChannel
    moves: list[dict[str, Any]] = field(default_factory=list)
    record: dict[str, Any] | None = None
    thread: threading.Thread | None = None
    started: float = field(default_factory=time.time)

    @property
    def opponent(self) -> AgentSpec:
        return self.match.counterpart if self.kind == FOCAL else self.match.focal

    @property
    def state(self) -> str:
        return "over" if self.record is not None else self.channel.state

    @property
    def their_offer(self) -> int | None:
        obs = self.channel.observation
        return obs.their_offer if obs is not None else None


class PlayRoom:
    """The live matches of one server, and the run directory their results go to (held for the
    server's life, so nothing else writes it meanwhile)."""

    def __init__(self, run_dir: str | Path, spec: TournamentSpec, extra_backends: dict[str, BackendSpec] | None = None,
                 abandon_after_s: float = 600.0, max_live: int = 32):
        self.opponents = Opponents(spec, extra_backends)
        self.spec = self.opponents.spec  # backends resolved
        self.abandon_after_s, self.max_live = abandon_after_s, max_live
        self.run_dir = Path(run_dir)
        self.store = RunStore(self.run_dir)
        self.lock = threading.Lock()
        self.live: dict[str, LiveMatch] = {}

    def scenarios(self, domain: str) -> list[Scenario]:
        """The scenarios the run plays in ``domain`` (so a person's match pairs with the agents')."""
        return load_scenarios(domain, self.spec.split)[: self.spec.scenarios]

    def _pick(self, request: PlayRequest) -> tuple[Scenario, str]:
        pool = self.scenarios(request.domain)
        if request.scenario:
            chosen = [s for s in pool if s.id == request.scenario]
            if not chosen:
                raise ConfigError(f"scenario {request.scenario!r} is not one of this run's {request.domain} scenarios")
            return chosen[0], "chosen"
        pick_seed = secrets.randbits(31)  # recorded with the result, so the choice can be redone
        return pool[derive_seed(pick_seed, "scenario") % len(pool)], f"random:{pick_seed}"

    def start(self, person: str, request: PlayRequest) -> LiveMatch:
        """Set up a match for ``person`` and start it in its own thread; a ConfigError names a bad choice."""
        if request.domain not in self.spec.domains:
            raise ConfigError(f"this run has no domain {request.domain!r}; choose {', '.join(self.spec.domains)}")
        if request.kind not in (FOCAL, COUNTERPART):
            raise ConfigError(f"role must be {FOCAL} or {COUNTERPART}")
        if request.opponent not in self.opponents.names(request.domain, request.kind):
            raise ConfigError(f"{request.opponent!r} cannot play opposite the {request.kind} role in {request.domain}")
        with self.lock:  # before building agents; checked again when the match is added
            if self._full():
                raise self._full_error()
        live_id = secrets.token_hex(6)
        scenario, pick = self._pick(request)
        opponent = self.opponents.spec_for(request.opponent, request.backend)
        channel = open_channel(live_id, self.abandon_after_s)
        human = AgentSpec(HUMAN, {"channel": live_id}, BackendSpec("scripted"), HUMAN)
        focal, counter = (human, opponent) if request.kind == FOCAL else (opponent, human)
        match_id = f"{scenario.domain}/{scenario.id}/{focal.display_name}__{counter.display_name}/person-{live_id}"
        match = MatchSpec.at(match_id, f"people/{person}", scenario, 0, self.spec.seed, focal, counter)
        view = ScenarioView.of(scenario, request.kind, self.spec.max_messages, self.spec.taxonomy)
        try:
            agents = {FOCAL: make_agent(focal), COUNTERPART: make_agent(counter)}
        except Exception:
            close_channel(live_id)
            raise
        live = LiveMatch(live_id, person, match, scenario, request.kind, view, channel)
        live.thread = threading.Thread(target=self._run, args=(live, agents, pick), daemon=True,
                                       name=f"person-match-{live_id}")
        with self.lock:  # the count and the insertion under one lock: simultaneous starts cannot overfill
            if self._full():
                close_channel(live_id)
                raise self._full_error()
            self.live[live_id] = live
        live.thread.start()
        return live

    def _full(self) -> bool:
        return sum(live.record is None for live in self.live.values()) >= self.max_live

    def _full_error(self) -> ConfigError:
        return ConfigError(f"{self.max_live} matches are already being played on this server; try again later")

    def _run(self, live: LiveMatch, agents: dict, pick: str) -> None:
        spec = self.spec
        env = NegotiationEnv(live.scenario, max_messages=spec.max_messages, taxonomy=spec.taxonomy,
                             converge_within=spec.converge_within)
        budget = self.abandon_after_s * (spec.max_messages + 1) + spec.match_timeout
        try:
            record, transcript = play(live.match, live.scenario, agents, env, budget, on_move=live.moves.append)
        except Abandoned as exc:
            record, transcript = abandoned_record(live.match, str(exc), len(live.moves), agents), list(live.moves)
        except Exception as exc:  # the opponent's model failed: recorded as an error, never a loss
            record, transcript = error_record(live.match, f"{type(exc).__name__}: {exc}", 1, agents), list(live.moves)
        record |= {"person": live.person, "scenario_pick": pick, f"{live.kind}_backend": "person"}
        try:
            with self.lock:
                self.store.append([RunStore.encode(record, transcript)])
                self.store.finalize()
        finally:
            live.record = record
            live.channel.finish()
            close_channel(live.live_id)

    def get(self, person: str, live_id: str) -> LiveMatch:
        """A match of this person's (a KeyError for anyone else's: sessions never see each other's)."""
        live = self.live.get(live_id)
        if live is None or live.person != person:
            raise KeyError(live_id)
        return live

    def of(self, person: str) -> list[LiveMatch]:
        return sorted((m for m in self.live.values() if m.person == person), key=lambda m: -m.started)

    def close(self, wait_s: float = 10.0) -> None:
        """Stop: unfinished matches are recorded as abandoned, then the run directory is released."""
        for live in list(self.live.values()):
            live.channel.close()
        deadline = time.time() + wait_s
        for live in list(self.live.values()):
            if live.thread is not None:
                live.thread.join(max(0.0, deadline - time.time()))
        self.store.close()
