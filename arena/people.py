"""People against agents: live matches played by the same environment as tournament matches, in a
thread each, and recorded in a run directory like any other match. The harness guards hold the agent
side; a person's moves are checked before they are consumed and refused with a reason, never rewritten."""
from __future__ import annotations

import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import pyarrow.parquet as pq

from agents import AgentSpec, ScenarioView, get_entry, load_plugins, make_agent
from agents.human import Abandoned, MoveChannel, close_channel, open_channel
from agents.leaks import states
from agents.llm import BackendSpec, ConfigError
from arena.match import abandoned_record, error_record, play
from arena.schedule import MatchSpec, derive_seed
from arena.spec import TournamentSpec, resolve_backends
from arena.storage import MATCHES, RunStore
from envs import COUNTERPART, FOCAL, MAX_MESSAGE_CHARS, MOVES, Action, NegotiationEnv, Scenario, load_scenarios
from leaderboards.people import PEOPLE_BACKEND

HUMAN = "human"  # the label every person plays under (people are rated apart from the agents by default)


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


BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def person_message(text: str) -> str:
    """A person's message as stored: exactly as written, in Unicode NFC, line breaks as "\\n"; a
    ValueError names what is refused (control characters, text-direction overrides, too long).
    Nothing is removed or replaced: a message that cannot be stored as written is refused."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n"))
    for char in text:
        if (unicodedata.category(char) == "Cc" and char != "\n") or char in BIDI_CONTROLS:
            raise ValueError(f"the message holds a control character (U+{ord(char):04X}); remove it and send again")
    if len(text) > MAX_MESSAGE_CHARS:
        raise ValueError(f"the message is {len(text)} characters long; at most {MAX_MESSAGE_CHARS}")
    return text


def _offer_value(form: dict[str, str], view: ScenarioView) -> int:
    domain = view.domain
    try:
        value = int(form.get("value", "").strip())
    except ValueError:
        raise ValueError(f"an offer needs a whole number of {domain.unit} between {domain.low} and {domain.high}") from None
    if not domain.low <= value <= domain.high:
        raise ValueError(f"an offer must lie between {domain.low} and {domain.high} {domain.unit}, not {value}")
    if domain.better(view.kind, view.reservation, value):
        raise ValueError(f"{value} {domain.unit} is past your reservation of {view.reservation} {domain.unit}: "
                         f"no negotiator may offer a deal worse than its reservation; offer "
                         f"{view.reservation} {domain.unit} or better for you")
    return value


def person_action(form: dict[str, str], view: ScenarioView, their_offer: int | None) -> Action:
    """The person's move from the form exactly as they made it, or a ValueError saying why it cannot be
    made (checked before the move is consumed, so the person can change it; nothing is rewritten).

    The rules are the ones the harness enforces on agents, as refusals: no offer and no acceptance past
    one's own reservation. There is no leak check: a person may say what they like about their own
    limit (the move records whether the message mentions it, see ``mentions_reservation``)."""
    move = form.get("move", "")
    if move not in MOVES:
        raise ValueError(f"choose a move: {', '.join(MOVES)}")
    emotion = form.get("emotion", "neutral")
    if emotion not in view.emotions:
        raise ValueError(f"unknown emotion {emotion!r}")
    message = person_message(form.get("message", ""))
    if move == "accept":
        if their_offer is None:
            raise ValueError("there is no offer to accept yet")
        if view.domain.better(view.kind, view.reservation, their_offer):
            raise ValueError(f"their offer of {their_offer} {view.domain.unit} is past your reservation of "
                             f"{view.reservation} {view.domain.unit}: you cannot accept it; make an offer or walk away")
    if move != "offer":
        return Action(move, None, emotion, message)
    return Action.offer(_offer_value(form, view), emotion, message)


def mentions_reservation(message: str, reservation: int) -> bool:
    """True when a message states the value ``reservation`` in any of the forms the agents' guard looks for."""
    return states(message, reservation)


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
    extra: dict[str, Any] = field(default_factory=dict)  # fields added to the record (a study's, e.g.)
    on_finish: Callable[[dict[str, Any]], None] | None = None  # told the record once it is stored

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

    def heard(self, move: dict[str, Any]) -> None:
        """A move as the match made it: the person's own moves also say whether they mention the
        person's reservation (the transcript keeps it; nothing in the message is changed)."""
        if move["role"] == self.kind:
            move["mentions_reservation"] = mentions_reservation(move["message"], self.view.reservation)
        self.moves.append(move)


class PlayRoom:
    """The live matches of one server, and the run directory their results go to (held for the
    server's life, so nothing else writes it meanwhile). A finished match is appended to the run's
    log at once (durable); the run's tables are rewritten when the room closes, not per match."""

    def __init__(self, run_dir: str | Path, spec: TournamentSpec, extra_backends: dict[str, BackendSpec] | None = None,
                 abandon_after_s: float = 600.0, max_live: int = 32, max_per_person: int = 1):
        self.opponents = Opponents(spec, extra_backends)
        self.spec = self.opponents.spec  # backends resolved
        self.abandon_after_s, self.max_live, self.max_per_person = abandon_after_s, max_live, max_per_person
        self.run_dir = Path(run_dir)
        self.store = RunStore(self.run_dir)
        self.lock = threading.Lock()
        self.live: dict[str, LiveMatch] = {}
        self.recorded: list[dict[str, Any]] = []  # records finished since the room opened (in the log, not the tables)
        self.transcripts: dict[str, list[dict[str, Any]]] = {}
        self.closed = False
        if self.store.records and _tables_behind(self.run_dir, len(self.store.records)):
            self.store.finalize()  # a server stopped hard last time: bring the tables up to the log once

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
        self._check_room(person)  # before building agents; checked again when the match is added
        scenario, pick = self._pick(request)
        return self.launch(person, scenario, request.kind, self.opponents.spec_for(request.opponent, request.backend),
                           {"scenario_pick": pick})

    def launch(self, person: str, scenario: Scenario, kind: str, opponent: AgentSpec,
               extra: dict[str, Any] | None = None, repeat: int = 0,
               on_finish: Callable[[dict[str, Any]], None] | None = None) -> LiveMatch:
        """Start ``person``'s match as ``kind`` against ``opponent`` (a resolved spec) on ``scenario``;
        ``extra`` fields join the record, ``on_finish`` hears it once stored. A ConfigError when the
        server or the person has no room."""
        self._check_room(person)
        live_id = secrets.token_hex(6)
        channel = open_channel(live_id, self.abandon_after_s)
        human = AgentSpec(HUMAN, {"channel": live_id}, BackendSpec("scripted"), HUMAN)
        focal, counter = (human, opponent) if kind == FOCAL else (opponent, human)
        match_id = f"{scenario.domain}/{scenario.id}/{focal.display_name}__{counter.display_name}/person-{live_id}"
        match = MatchSpec.at(match_id, f"people/{person}", scenario, repeat, self.spec.seed, focal, counter)
        view = ScenarioView.of(scenario, kind, self.spec.max_messages, self.spec.taxonomy)
        try:
            agents = {FOCAL: make_agent(focal), COUNTERPART: make_agent(counter)}
        except Exception:
            close_channel(live_id)
            raise
        live = LiveMatch(live_id, person, match, scenario, kind, view, channel, extra=dict(extra or {}),
                         on_finish=on_finish)
        live.thread = threading.Thread(target=self._run, args=(live, agents), daemon=True,
                                       name=f"person-match-{live_id}")
        with self.lock:  # the counts and the insertion under one lock: simultaneous starts cannot overfill
            try:
                self._check_room(person, locked=True)
            except ConfigError:
                close_channel(live_id)
                raise
            self.live[live_id] = live
        live.thread.start()
        return live

    def _check_room(self, person: str, locked: bool = False) -> None:
        """A ConfigError when the server, or this person, already has as many live matches as allowed."""
        if not locked:
            with self.lock:
                return self._check_room(person, locked=True)
        running = [live for live in self.live.values() if live.record is None]
        if sum(live.person == person for live in running) >= self.max_per_person:
            raise ConfigError(f"you already have {self.max_per_person} match(es) in progress: finish one (or walk "
                              "away from it) before starting another")
        if len(running) >= self.max_live:
            raise ConfigError(f"{self.max_live} matches are already being played on this server; try again later")

    def _run(self, live: LiveMatch, agents: dict) -> None:
        spec = self.spec
        env = NegotiationEnv(live.scenario, max_messages=spec.max_messages, taxonomy=spec.taxonomy,
                             converge_within=spec.converge_within)
        budget = self.abandon_after_s * (spec.max_messages + 1) + spec.match_timeout
        try:
            record, transcript = play(live.match, live.scenario, agents, env, budget, on_move=live.heard)
        except Abandoned as exc:
            record, transcript = abandoned_record(live.match, str(exc), len(live.moves), agents), list(live.moves)
        except Exception as exc:  # the opponent's model failed: recorded as an error, never a loss
            record, transcript = error_record(live.match, f"{type(exc).__name__}: {exc}", 1, agents), list(live.moves)
        record |= {"person": live.person, f"{live.kind}_backend": PEOPLE_BACKEND} | live.extra
        try:
            with self.lock:
                self.store.append([RunStore.encode(record, transcript)])  # durable; O(1) in the run's size
                self.recorded.append(record)
                self.transcripts[record["match_id"]] = transcript
        finally:
            live.record = record
            try:
                if live.on_finish is not None:  # before the page hears "over", so the next step is ready
                    live.on_finish(record)
            finally:
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
        """Stop: unfinished matches are recorded as abandoned, the run's tables written, the directory
        released (a second call does nothing)."""
        if self.closed:
            return
        self.closed = True
        for live in list(self.live.values()):
            live.channel.close()
        deadline = time.time() + wait_s
        for live in list(self.live.values()):
            if live.thread is not None:
                live.thread.join(max(0.0, deadline - time.time()))
        try:
            with self.lock:
                if self.recorded:
                    self.store.finalize()
        finally:
            self.store.close()


def _tables_behind(run_dir: Path, records: int) -> bool:
    """True when the run's match table holds fewer matches than its log (or is missing)."""
    path = run_dir / MATCHES
    if not path.is_file():
        return True
    return pq.read_metadata(path).num_rows != records
