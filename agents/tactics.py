"""Concession tactics shared by scripted strategies (Faratin, Sierra and Jennings 1998)."""
from __future__ import annotations

from agents.base import Observation, ScenarioView


def time_dependent_fraction(progress: float, exponent: float, initial: float = 0.0) -> float:
    """How far from target toward reservation to be at ``progress`` in [0, 1].

    exponent < 1 is Boulware (holds firm, concedes late), 1 is linear, > 1 is Conceder.
    """
    progress = min(1.0, max(0.0, progress))
    return initial + (1.0 - initial) * progress ** (1.0 / exponent)


def acceptable(view: ScenarioView, their_offer: int | None, my_next: int) -> bool:
    """Accept when the standing offer is at least as good for me as what I would offer next."""
    if their_offer is None:
        return False
    return view.gain(their_offer) >= view.gain(my_next) and view.gain(their_offer) >= 0


def accepts(view: ScenarioView, obs: Observation, my_next: int) -> bool:
    """Accept the standing offer if it beats my next one, or, with at most two messages left, if it
    is at least my reservation (better a deal than a breakdown)."""
    last_chance = obs.messages_left <= 2 and obs.their_offer is not None and view.gain(obs.their_offer) >= 0
    return acceptable(view, obs.their_offer, my_next) or last_chance


def toward(view: ScenarioView, start: int, end: int, fraction: float) -> int:
    """A value ``fraction`` of the way from ``start`` to ``end``, never past the reservation."""
    value = view.domain.clamp(start + (end - start) * fraction)
    return view.reservation if view.gain(value) < 0 else value

