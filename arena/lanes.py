"""Lanes: the units of work a tournament is dispatched in, and which worker may take which.

A session (one pair of agents, one domain and repeat, scenarios in order) must be played in order by
one pair of agent instances only when an agent learns across negotiations. Otherwise its matches are
independent, and a served one is its own lane, so a tournament with few agents still keeps a serving
engine full. Work on this process's CPU (scripted agents, an embedded model) stays a whole session:
it runs one lane at a time per worker anyway, and one call per session costs less than one per match.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field, replace

from agents import Agent, AgentSpec, get_entry
from agents.llm.factory import server_of
from arena.schedule import Session

LOCAL = ""  # the capacity key of a worker's own CPU (one lane at a time)
ANY = "*"  # the capacity key every lane needs: how many lanes a worker runs at once


@dataclass(frozen=True)
class Execution:
    """How lanes are cut and run: independent served matches as lanes of their own, and how many
    lanes a worker may run at once (None: as many as its shares allow). ``LEGACY`` is the path
    before lanes, one session at a time per worker, kept to measure against."""

    split: bool = True
    lanes_per_worker: int | None = None


LEGACY = Execution(split=False, lanes_per_worker=1)


def learns(agent: AgentSpec) -> bool:
    """Whether an agent may carry what it learned from one negotiation into the next (it overrides
    ``on_outcome``); an agent built by a factory that names no class is assumed to."""
    entry = get_entry(agent.name)
    if not isinstance(entry.factory, type) and not hasattr(entry.factory, "agent_class"):
        return True
    return entry.agent_class.on_outcome is not Agent.on_outcome


@dataclass(frozen=True)
class Lane:
    """Matches one pair of agent instances plays in order, and those of them already finished
    (replayed, unrecorded, when an agent learns, so it learns the same sequence; else not played)."""

    session: Session
    skip: frozenset[str] = frozenset()
    sticky: bool = False  # an agent learns: the lane is the whole session, replayed from its start if moved
    origin: Session | None = None  # the session before its backends were pinned to hosts

    @property
    def hosts(self) -> tuple[str, ...]:
        """The served hosts its agents talk to (pinned: one per backend)."""
        found = (server_of(a.resolved_backend) for a in (self.session.focal, self.session.counterpart))
        return tuple(sorted({h for h in found if h}))

    @property
    def local(self) -> bool:
        """Whether it needs the worker's CPU: an embedded model, or no served model at all."""
        kinds = {a.resolved_backend.kind for a in (self.session.focal, self.session.counterpart)}
        return "llama-cpp" in kinds or not self.hosts

    @property
    def needs(self) -> tuple[str, ...]:
        return (ANY,) + self.hosts + ((LOCAL,) if self.local else ())

    @property
    def to_play(self) -> int:
        """Matches this lane will record."""
        return sum(m.match_id not in self.skip for m in self.session.matches)


def lanes_of(session: Session, skip: frozenset[str], split: bool = True) -> list[Lane]:
    """The lanes of a session with ``skip`` already finished; ``split=False`` keeps every session
    whole (one conversation per lane, the path before lanes)."""
    sticky = learns(session.focal) or learns(session.counterpart)
    whole = Lane(session, skip, sticky)
    if sticky or not split or whole.local:
        return [whole] if whole.to_play else []
    return [Lane(replace(session, matches=(m,)), frozenset()) for m in session.matches if m.match_id not in skip]


@dataclass
class Capacity:
    """What one worker may run at once: its share of each host's request cap, and one local lane."""

    hosts: dict[str, int]
    local: int = 1
    lanes: int | None = None  # at most this many lanes at once (None: no limit beyond the slots)

    @property
    def threads(self) -> int:
        """Lanes it may run at once (each holds at most one request in flight)."""
        most = sum(self.hosts.values()) + self.local
        return most if self.lanes is None else min(most, self.lanes)

    def slots(self) -> dict[str, int]:
        return dict(self.hosts) | {LOCAL: self.local, ANY: self.threads}


def shares(caps: dict[str, int], workers: int, execution: Execution = Execution()) -> list[Capacity]:
    """Each host's cap dealt out over ``workers`` (they add up to the cap, so it holds across the run)."""
    return [Capacity({h: cap // workers + (i < cap % workers) for h, cap in caps.items()},
                     lanes=execution.lanes_per_worker) for i in range(workers)]


@dataclass
class Dispatcher:
    """Pending lanes, and which worker has room for which: a lane starts on a worker where each host
    it needs has a free slot of that worker's share (and the worker's CPU, if it needs it)."""

    capacities: list[Capacity]
    free: list[dict[str, int]] = field(init=False)
    pending: dict[tuple[str, ...], collections.deque] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.free = [c.slots() for c in self.capacities]

    def add(self, lane: Lane, front: bool = False) -> None:
        queue = self.pending.setdefault(lane.needs, collections.deque())
        queue.appendleft(lane) if front else queue.append(lane)

    def runnable(self, needs: tuple[str, ...]) -> bool:
        """Whether some worker could ever run a lane with these needs."""
        return any(all(c.slots().get(k, 0) > 0 for k in needs) for c in self.capacities)

    def take(self, worker: int) -> Lane | None:
        """The next lane that fits ``worker``'s free slots (taking them), or None."""
        free = self.free[worker]
        for needs, queue in self.pending.items():
            if queue and all(free.get(k, 0) > 0 for k in needs):
                for k in needs:
                    free[k] -= 1
                return queue.popleft()
        return None

    def release(self, worker: int, lane: Lane) -> None:
        for k in lane.needs:
            self.free[worker][k] += 1

    def drain(self) -> list[Lane]:
        """Every pending lane, removed (to be pinned anew after a host is lost)."""
        lanes = [lane for queue in self.pending.values() for lane in queue]
        self.pending.clear()
        return lanes

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self.pending.values())
