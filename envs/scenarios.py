"""Scenarios: private targets and reservations per role, plus context, generated deterministically."""
from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Callable

import numpy as np

from envs.domains import COUNTERPART, DOMAINS, FOCAL, Domain, get_domain

SCENARIO_SEED = 20_260_423  # fixed forever: scenario ids and values must not move between versions
SCENARIOS_PER_DOMAIN = 100
TRAIN_SIZE = 80
SPLITS = ("train", "test", "all")


@dataclass(frozen=True)
class Scenario:
    """One negotiation case: each role's private target and reservation, and shared context."""

    id: str
    domain: str
    index: int
    split: str
    target: dict[str, int]
    reservation: dict[str, int]
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def has_zopa(self) -> bool:
        """True when some value is acceptable to both roles."""
        dom = get_domain(self.domain)
        focal_res, counter_res = self.reservation[FOCAL], self.reservation[COUNTERPART]
        return focal_res >= counter_res if dom.prefers_low(FOCAL) else focal_res <= counter_res

    def to_record(self) -> dict[str, Any]:
        """A flat, JSON-friendly dictionary."""
        return {
            "id": self.id, "domain": self.domain, "index": self.index, "split": self.split,
            "focal_target": self.target[FOCAL], "counterpart_target": self.target[COUNTERPART],
            "focal_reservation": self.reservation[FOCAL],
            "counterpart_reservation": self.reservation[COUNTERPART],
            "context": dict(self.context),
        }


@functools.cache
def scenario_pools() -> dict[str, Any]:
    text = resources.files("envs").joinpath("data/scenario_pools.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _uniform_int(rng: np.random.Generator, bounds: list[int]) -> int:
    return int(rng.integers(bounds[0], bounds[1] + 1))


def _pick(rng: np.random.Generator, items: list[Any]) -> Any:
    return items[int(rng.integers(len(items)))]


def _credit(rng: np.random.Generator, pool: dict[str, Any]) -> tuple[int, int, dict[str, Any]]:
    focal, counter = _uniform_int(rng, pool["creditor_target"]), _uniform_int(rng, pool["debtor_target"])
    context = {
        "outstanding_balance": int(round(_uniform_int(rng, pool["outstanding_balance"]), -2)),
        "days_overdue": _uniform_int(rng, pool["days_overdue"]),
        "business_sector": _pick(rng, pool["business_sector"]),
        "reason_for_delay": _pick(rng, pool["reason_for_delay"]),
    }
    return focal, counter, context


def _rescue(rng: np.random.Generator, pool: dict[str, Any]) -> tuple[int, int, dict[str, Any]]:
    endurance = _uniform_int(rng, pool["endurance"])
    lo, hi = pool["eta"]
    eta = min(hi, max(lo, endurance + _uniform_int(rng, pool["eta_margin"])))
    context = {
        "disaster_type": _pick(rng, pool["disaster_type"]),
        "survivor_condition": _pick(rng, pool["survivor_condition"]),
        "endurance_minutes": endurance,
        "critical_needs": _pick(rng, pool["critical_needs"]),
    }
    return eta, endurance, context


def _hospital(rng: np.random.Generator, pool: dict[str, Any]) -> tuple[int, int, dict[str, Any]]:
    waitlist = _uniform_int(rng, pool["waitlist"])
    reduction = _uniform_int(rng, [pool["junior_reduction"][0], min(pool["junior_reduction"][1], waitlist - 1)])
    urgency = _pick(rng, pool["urgency"])
    patient = max(1, waitlist - reduction)
    scheduler = waitlist + (pool["low_urgency_extra_days"] if urgency == "Low" else 0)
    scheduler = max(scheduler, patient + pool["min_gap_days"])
    condition, surgery = _pick(rng, pool["condition_surgery"])
    context = {
        "age": _uniform_int(rng, pool["age"]), "condition": condition, "surgery": surgery,
        "urgency": urgency, "days_on_waitlist": waitlist, "junior_surgeon_days_saved": reduction,
    }
    return scheduler, patient, context


def _sleep(rng: np.random.Generator, pool: dict[str, Any]) -> tuple[int, int, dict[str, Any]]:
    step = pool["step_minutes"]

    def on_grid(bounds: list[int]) -> int:
        return bounds[0] + step * int(rng.integers(0, (bounds[1] - bounds[0]) // step + 1))

    assistant, student = on_grid(pool["assistant_bedtime"]), on_grid(pool["student_bedtime"])
    student = max(student, assistant + pool["min_gap_minutes"])
    context = {
        "age": _uniform_int(rng, pool["age"]), "background": _pick(rng, pool["background"]),
        "situation": _pick(rng, pool["situation"]),
        "reason_for_staying_up": _pick(rng, pool["reason_for_staying_up"]),
    }
    return assistant, student, context


GENERATORS: dict[str, Callable[[np.random.Generator, dict[str, Any]], tuple[int, int, dict[str, Any]]]] = {
    "credit": _credit, "rescue": _rescue, "hospital": _hospital, "sleep": _sleep,
}


def reservations_for(domain: Domain, focal_target: int, counter_target: int,
                     rng: np.random.Generator) -> dict[str, int]:
    """Walk-away values beyond each target, in the direction that role concedes."""
    gap = abs(counter_target - focal_target)
    lo, hi = scenario_pools()["reservation_fraction"]
    result = {}
    for kind, target in ((FOCAL, focal_target), (COUNTERPART, counter_target)):
        shift = max(1, round(float(rng.uniform(lo, hi)) * gap))
        result[kind] = domain.clamp(target + domain.concession_sign(kind) * shift)
    return result


def build_scenario(domain: Domain, index: int, split: str, focal_target: int, counter_target: int,
                   context: dict[str, Any], rng: np.random.Generator, scenario_id: str | None = None) -> Scenario:
    """Assemble a scenario, drawing reservations from ``rng``."""
    targets = {FOCAL: domain.clamp(focal_target), COUNTERPART: domain.clamp(counter_target)}
    return Scenario(
        id=scenario_id or f"{domain.name}-{index:03d}", domain=domain.name, index=index, split=split,
        target=targets, reservation=reservations_for(domain, targets[FOCAL], targets[COUNTERPART], rng),
        context=context,
    )


def generate_scenario(domain_name: str, index: int) -> Scenario:
    """The scenario at ``index``; its own RNG stream makes it independent of how many are generated."""
    domain = get_domain(domain_name)
    rng = np.random.default_rng([SCENARIO_SEED, list(DOMAINS).index(domain_name), index])
    focal, counter, context = GENERATORS[domain_name](rng, scenario_pools()[domain_name])
    split = "train" if index < TRAIN_SIZE else "test"
    return build_scenario(domain, index, split, focal, counter, context, rng)


@functools.cache
def _all_scenarios(domain_name: str) -> tuple[Scenario, ...]:
    return tuple(generate_scenario(domain_name, i) for i in range(SCENARIOS_PER_DOMAIN))


@functools.cache
def _scenarios_by_id(domain_name: str) -> dict[str, Scenario]:
    return {s.id: s for s in _all_scenarios(domain_name)}


def get_scenario(domain: str, scenario_id: str) -> Scenario:
    """One built-in scenario of a domain by its id (a KeyError naming it if there is none)."""
    get_domain(domain)
    try:
        return _scenarios_by_id(domain)[scenario_id]
    except KeyError:
        raise KeyError(f"no scenario {scenario_id!r} in domain {domain}") from None


def load_scenarios(domain: str, split: str = "test") -> list[Scenario]:
    """The built-in scenarios of a domain: split is "train" (80), "test" (20) or "all" (100)."""
    get_domain(domain)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    return [s for s in _all_scenarios(domain) if split == "all" or s.split == split]
