"""The agent contract (also the plugin API): what an agent sees, what it must do, how it is built."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from agents.llm import Backend, ScriptedBackend
from envs import COUNTERPART, FOCAL, ROLE_KINDS, Action, Domain, Outcome, Scenario, get_domain, get_taxonomy


@dataclass(frozen=True)
class ScenarioView:
    """What one role knows when a negotiation starts: its own private values and the shared context."""

    domain: Domain
    kind: str
    scenario_id: str
    target: int
    reservation: int
    context: dict[str, Any]
    max_messages: int
    emotions: tuple[str, ...]
    speech_seed: int = 0  # shared by every agent in this role on this match: wording and model sampling

    @classmethod
    def of(cls, scenario: Scenario, kind: str, max_messages: int, taxonomy: str,
           speech_seed: int = 0) -> "ScenarioView":
        return cls(get_domain(scenario.domain), kind, scenario.id, scenario.target[kind],
                   scenario.reservation[kind], dict(scenario.context), max_messages, get_taxonomy(taxonomy),
                   speech_seed)

    @property
    def role_name(self) -> str:
        return self.domain.role_name(self.kind)

    @property
    def other_role_name(self) -> str:
        return self.domain.role_name(COUNTERPART if self.kind == FOCAL else FOCAL)

    def gain(self, value: float) -> float:
        """How far ``value`` is toward this role's target from its reservation (0 at reservation, 1 at target)."""
        span = self.target - self.reservation
        return 1.0 if span == 0 else (value - self.reservation) / span

    def at(self, fraction: float) -> int:
        """The value a ``fraction`` of the way from target (0) to reservation (1)."""
        return self.domain.clamp(self.target + (self.reservation - self.target) * fraction)


@dataclass(frozen=True)
class Turn:
    """One public move of the dialogue: who, what, and the message text (no emotion label)."""

    kind: str
    move: str
    value: int | None
    message: str


@dataclass(frozen=True)
class Observation:
    """What an agent sees when it is its turn to move."""

    turn: int
    messages_left: int
    their_offer: int | None
    my_offer: int | None
    last_message: str
    transcript: tuple[Turn, ...] = field(default_factory=tuple)

    @property
    def progress(self) -> float:
        """Share of the message budget used, in [0, 1]."""
        total = self.turn + self.messages_left
        return self.turn / total if total else 1.0


class Agent(ABC):
    """A negotiator. Subclasses set ``name`` and implement :meth:`act`.

    ``roles`` lists the role kinds ("focal", "counterpart") it can play; ``domains`` None means
    every domain. Agents are built from plain specs, so constructors take only plain parameters
    and a backend.
    """

    name: ClassVar[str] = "agent"
    description: ClassVar[str] = ""
    # Parameters the agent takes (name -> what it means), merged along the class hierarchy; an agent
    # that declares none (None everywhere) accepts any, as plugins written before this did.
    parameters: ClassVar[dict[str, str] | None] = None
    roles: ClassVar[frozenset[str]] = frozenset(ROLE_KINDS)
    domains: ClassVar[frozenset[str] | None] = None

    def __init__(self, backend: Backend | None = None, **params: Any):
        self.backend = backend or ScriptedBackend()
        self.params = params
        self.view: ScenarioView | None = None
        self.rng = np.random.default_rng(0)

    @classmethod
    def declared_parameters(cls) -> dict[str, str] | None:
        """Every parameter the class and its bases declare, or None if none declares any."""
        tables = [c.__dict__["parameters"] for c in reversed(cls.__mro__) if c.__dict__.get("parameters") is not None]
        return {k: v for table in tables for k, v in table.items()} if tables else None

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> None:
        """Raise ValueError naming the first parameter value this agent cannot use (e.g. an emotion
        outside its taxonomy); called before a tournament starts, so a bad value is refused on every
        path rather than failing each match. The default accepts any value."""

    @classmethod
    def can_play(cls, domain: str, kind: str) -> bool:
        return kind in cls.roles and (cls.domains is None or domain in cls.domains)

    def reset(self, view: ScenarioView, role: str, seed: int) -> None:
        """Prepare for a new negotiation as ``role`` ("focal" or "counterpart")."""
        self.view = view
        self.rng = np.random.default_rng(seed)
        self.seed = seed

    @abstractmethod
    def act(self, observation: Observation) -> Action:
        """The next move."""

    def on_outcome(self, outcome: Outcome) -> None:
        """Called with the final outcome; agents that learn across negotiations override it."""
