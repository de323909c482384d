"""Utilities, savings and the per-match outcome record."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from envs.domains import COUNTERPART, FOCAL, ROLE_KINDS, get_domain
from envs.scenarios import Scenario


def utility(scenario: Scenario, kind: str, value: float | None) -> float:
    """0 at the role's reservation, 1 at its target, linear between, below 0 past the reservation.

    A deal better than the target is capped at 1; a breakdown (``value is None``) gives 0.
    """
    if value is None:
        return 0.0
    target, reservation = scenario.target[kind], scenario.reservation[kind]
    if target == reservation:  # no room between target and walk-away: all or nothing
        return -1.0 if get_domain(scenario.domain).better(kind, target, value) else 1.0
    return min(1.0, (value - reservation) / (target - reservation))


def savings(scenario: Scenario, kind: str, value: float | None) -> float | None:
    """Share of the gap between the two targets won by this role (EmoMAS/EmoDistill), clipped to [0, 1].

    Written as (value - other target) / (own target - other target), which has the right
    direction for every domain. None on breakdown: savings exist only for agreements.
    """
    if value is None:
        return None
    own = scenario.target[kind]
    other = scenario.target[FOCAL if kind == COUNTERPART else COUNTERPART]
    if own == other:
        return 1.0
    return min(1.0, max(0.0, (value - other) / (own - other)))


def nash_point(scenario: Scenario) -> tuple[float, float] | None:
    """Utilities (focal, counterpart) at the agreement maximising their product, or None without a ZOPA."""
    if not scenario.has_zopa:
        return None
    domain = get_domain(scenario.domain)
    lo = min(scenario.reservation.values())
    hi = max(scenario.reservation.values())
    best: tuple[float, tuple[float, float]] = (-1.0, (0.0, 0.0))
    for value in range(max(lo, domain.low), min(hi, domain.high) + 1):
        pair = (utility(scenario, FOCAL, value), utility(scenario, COUNTERPART, value))
        if pair[0] >= 0 and pair[1] >= 0 and pair[0] * pair[1] > best[0]:
            best = (pair[0] * pair[1], pair)
    return best[1]


def distance_to_nash(scenario: Scenario, utilities: tuple[float, float]) -> float:
    """Euclidean distance in utility space from an outcome to the Nash point (or to (0, 0))."""
    target = nash_point(scenario) or (0.0, 0.0)
    return math.dist(utilities, target)


@dataclass(frozen=True)
class Violation:
    """An invalid action that ended the match: who, which field, why."""

    agent: str
    field: str
    reason: str


@dataclass(frozen=True)
class Outcome:
    """The result of one negotiation; deterministic given the actions (no clocks)."""

    scenario_id: str
    domain: str
    agreement: bool
    value: int | None
    rounds: int
    ended_by: str  # "accept", "walk_away", "converged", "message_limit", "violation"
    utility: dict[str, float] = field(default_factory=dict)
    savings: dict[str, float | None] = field(default_factory=dict)
    social_welfare: float = 0.0
    nash_distance: float = 0.0
    violation: Violation | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_outcome(scenario: Scenario, value: int | None, rounds: int, ended_by: str,
                 violation: Violation | None = None) -> Outcome:
    """Score an ended negotiation (``value`` None means no agreement)."""
    utils = {kind: utility(scenario, kind, value) for kind in ROLE_KINDS}
    return Outcome(
        scenario_id=scenario.id, domain=scenario.domain, agreement=value is not None, value=value,
        rounds=rounds, ended_by=ended_by, utility=utils,
        savings={kind: savings(scenario, kind, value) for kind in ROLE_KINDS},
        social_welfare=utils[FOCAL] + utils[COUNTERPART],
        nash_distance=distance_to_nash(scenario, (utils[FOCAL], utils[COUNTERPART])),
        violation=violation,
    )
