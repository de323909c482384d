"""The agent registry: short names -> factories, built-ins plus ``arena.agents`` entry-point plugins."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable

from agents.base import Agent
from agents.llm import BackendSpec, ConfigError, make_backend
from agents.llm.base import AgentBackend

ENTRY_POINT_GROUP = "arena.agents"


@dataclass(frozen=True)
class AgentEntry:
    """A registered agent: its factory (class or callable) and the package it comes from."""

    name: str
    factory: Callable[..., Agent]
    source: str = "eq-arena"

    @property
    def agent_class(self) -> type[Agent]:
        return self.factory if isinstance(self.factory, type) else getattr(self.factory, "agent_class", Agent)


@dataclass(frozen=True)
class AgentSpec:
    """A plain description of an agent, enough for a Ray worker to build it."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    backend: BackendSpec | None = None  # None: the tournament's default backend
    label: str | None = None

    @property
    def display_name(self) -> str:
        return self.label or self.name

    @property
    def resolved_backend(self) -> BackendSpec:
        return self.backend or BackendSpec()


REGISTRY: dict[str, AgentEntry] = {}
PLUGIN_ERRORS: dict[str, str] = {}
PLUGIN_WARNINGS: list[str] = []
_plugins_loaded = False


def register(name: str, factory: Callable[..., Agent] | None = None, source: str = "eq-arena"):
    """Register ``factory`` under ``name``; usable as a class decorator."""
    def decorate(obj: Callable[..., Agent]) -> Callable[..., Agent]:
        REGISTRY[name] = AgentEntry(name, obj, source)
        return obj
    return decorate(factory) if factory is not None else decorate


def load_plugins() -> dict[str, str]:
    """Load ``arena.agents`` entry points once; a failing plugin is recorded by name, the rest still load."""
    global _plugins_loaded
    if _plugins_loaded:
        return PLUGIN_ERRORS
    _plugins_loaded = True
    builtins = dict(REGISTRY)
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            factory = ep.load()
        except Exception as exc:  # a broken plugin must not take the others down
            PLUGIN_ERRORS[ep.name] = f"{type(exc).__name__}: {exc}"
            continue
        source = ep.dist.name if ep.dist is not None else ep.value.split(":")[0]
        present = REGISTRY.get(ep.name)
        if present is not None and present.factory is not factory:
            PLUGIN_WARNINGS.append(f"plugin {ep.name!r} from {source} is named like the {present.source} agent "
                                   f"{ep.name!r} and was not loaded; rename its entry point")
            continue
        REGISTRY[ep.name] = AgentEntry(ep.name, factory, source)  # its package, also if it used @register
    for name, entry in builtins.items():  # a plugin's @register must not replace a built-in either
        if REGISTRY[name].factory is not entry.factory:
            PLUGIN_WARNINGS.append(f"a plugin registered {name!r}, the name of a built-in agent; the built-in is kept")
            REGISTRY[name] = entry
    return PLUGIN_ERRORS


def get_entry(name: str) -> AgentEntry:
    """The entry for ``name``, or a ConfigError suggesting close names."""
    load_plugins()
    if name not in REGISTRY and name in PLUGIN_ERRORS:
        raise ConfigError(f"agent {name!r} comes from a plugin that failed to load: {PLUGIN_ERRORS[name]}")
    if name not in REGISTRY:
        close = difflib.get_close_matches(name, list(REGISTRY), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known agents: {', '.join(sorted(REGISTRY))}"
        raise ConfigError(f"unknown agent {name!r}{hint}")
    return REGISTRY[name]


def make_agent(spec: AgentSpec) -> Agent:
    """Build an agent from its spec, with its own counting view of the process's shared backend."""
    entry = get_entry(spec.name)
    return entry.factory(backend=AgentBackend(make_backend(spec.resolved_backend)), **spec.params)
