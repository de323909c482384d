"""Negotiation domains: two roles, one issue, a unit, a valid range and who prefers which direction."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Literal

FOCAL = "focal"
COUNTERPART = "counterpart"
ROLE_KINDS = (FOCAL, COUNTERPART)


@dataclass(frozen=True)
class Domain:
    """A single-issue bilateral domain; the focal role always opens."""

    name: str
    title: str
    focal_role: str
    counterpart_role: str
    issue: str
    unit: str
    low: int
    high: int
    focal_prefers: Literal["low", "high"]
    context_fields: tuple[str, ...]

    def role_name(self, kind: str) -> str:
        """The domain's word for a role kind ("focal" or "counterpart")."""
        return self.focal_role if kind == FOCAL else self.counterpart_role

    def prefers_low(self, kind: str) -> bool:
        """True when the role kind wants the value as small as possible."""
        focal_low = self.focal_prefers == "low"
        return focal_low if kind == FOCAL else not focal_low

    def better(self, kind: str, a: float, b: float) -> bool:
        """True when value ``a`` is strictly better than ``b`` for the role kind."""
        return a < b if self.prefers_low(kind) else a > b

    def concession_sign(self, kind: str) -> int:
        """+1 when conceding means raising the value for this role kind, -1 when lowering it."""
        return 1 if self.prefers_low(kind) else -1

    def clamp(self, value: float) -> int:
        """Round and clip a value into the valid range."""
        return int(min(self.high, max(self.low, round(value))))

    @property
    def size(self) -> int:
        return self.high - self.low + 1


def _load_domains() -> dict[str, Domain]:
    text = resources.files("envs").joinpath("data/domains.toml").read_text(encoding="utf-8")
    table = tomllib.loads(text)
    return {
        name: Domain(name=name, context_fields=tuple(spec.pop("context_fields")), **spec)
        for name, spec in table.items()
    }


DOMAINS: dict[str, Domain] = _load_domains()


def get_domain(name: str) -> Domain:
    """Look a domain up by name, with a message listing the known names."""
    try:
        return DOMAINS[name]
    except KeyError:
        raise KeyError(f"unknown domain {name!r}; known domains: {', '.join(DOMAINS)}") from None
