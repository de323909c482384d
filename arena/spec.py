"""The tournament specification: from a TOML file and CLI flags (flags win), saved with the results."""
from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import tomli_w

from agents import REGISTRY, AgentSpec, get_entry
from agents.llm import BACKENDS, BackendSpec, ConfigError
from agents.response_model import BUILTIN_RESPONSE_MODELS, DEFAULT_RESPONSE_MODEL, load_response_model
from envs import DEFAULT_MAX_MESSAGES, DEFAULT_TAXONOMY, DOMAINS, SPLITS, TAXONOMIES



@dataclass
class TournamentSpec:
    """Everything that determines a tournament's matches and how they are played."""

    agents: list[AgentSpec] = field(default_factory=list)
    domains: list[str] = field(default_factory=lambda: list(DOMAINS))
    split: str = "test"
    scenarios: int | None = None
    repeats: int = 1
    seed: int = 0
    max_messages: int = DEFAULT_MAX_MESSAGES
    taxonomy: str = DEFAULT_TAXONOMY
    converge_within: int | None = None
    backend: str = "scripted"
    model: str | None = None
    ollama_host: str | None = None
    temperature: float = 0.7
    max_tokens: int = 256
    llm_timeout: float = 60.0
    cache: bool = True
    workers: int = 2
    ray_address: str | None = None
    llm_parallel: int = 1
    match_timeout: float = 600.0
    match_retries: int = 1
    response_model: str = DEFAULT_RESPONSE_MODEL

    def validate(self) -> "TournamentSpec":
        """Raise a ConfigError naming the first bad value."""
        for d in self.domains:
            if d not in DOMAINS:
                raise ConfigError(f"unknown domain {d!r}; known domains: {', '.join(DOMAINS)}")
        if not self.domains:
            raise ConfigError("no domains selected")
        checks = [(self.split in SPLITS, f"--split must be one of {', '.join(SPLITS)}, got {self.split!r}"),
                  (self.scenarios is None or self.scenarios >= 1, "--scenarios must be at least 1"),
                  (self.repeats >= 1, "--repeats must be at least 1"),
                  (self.max_messages >= 2, "--max-messages must be at least 2"),
                  (self.workers >= 0, "--workers must be 0 (in-process) or more"),
                  (self.llm_parallel >= 1, "--llm-parallel must be at least 1"),
                  (self.backend in BACKENDS, f"--backend must be one of {', '.join(BACKENDS)}"),
                  (self.taxonomy in TAXONOMIES, f"taxonomy must be one of {', '.join(TAXONOMIES)}"),
                  (self.match_retries >= 0, "match_retries must be 0 or more"),
                  (bool(self.agents), "no agents selected")]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        labels = [a.display_name for a in self.agents]
        duplicates = sorted({x for x in labels if labels.count(x) > 1})
        if duplicates:
            raise ConfigError(f"agents listed twice: {', '.join(duplicates)} (give each a distinct label)")
        for agent in self.agents:
            get_entry(agent.name)
        load_response_model(self.response_model)
        return self

    def to_toml(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v is not None and k != "agents"}
        data["agents"] = [{k: v for k, v in asdict(a).items() if v not in (None, {})} for a in self.agents]
        for agent in data["agents"]:
            if "backend" in agent:
                agent["backend"] = {k: v for k, v in agent["backend"].items() if v is not None}
        return tomli_w.dumps(data)


def _agent_from_table(table: dict[str, Any] | str) -> AgentSpec:
    if isinstance(table, str):
        return AgentSpec(table)
    unknown = set(table) - {"name", "params", "backend", "label"}
    if unknown or "name" not in table:
        raise ConfigError(f"agent entry {table!r}: needs 'name'; allowed keys are name, params, backend, label")
    backend = table.get("backend")
    if isinstance(backend, dict):
        try:
            backend = BackendSpec(**backend)
        except TypeError as exc:
            raise ConfigError(f"agent {table['name']!r}: bad backend table: {exc}") from None
    elif backend is not None:
        backend = BackendSpec(kind=str(backend))
    return AgentSpec(table["name"], dict(table.get("params", {})), backend, table.get("label"))


def load_spec_file(path: str | Path) -> dict[str, Any]:
    """Read a tournament TOML file into spec fields."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    known = {f.name for f in fields(TournamentSpec)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"config file {path}: unknown keys {', '.join(unknown)}")
    if "agents" in data:
        data["agents"] = [_agent_from_table(a) for a in data["agents"]]
    return data


def resolve_backends(spec: TournamentSpec) -> TournamentSpec:
    """Give agents without their own backend the tournament's default backend, model and options;
    an agent that names its backend keeps it (``--backend`` is only the default)."""
    resolved = []
    spec = replace(spec, response_model=canonical_response_model(spec.response_model))
    for agent in spec.agents:
        backend = agent.backend
        if backend is None:
            backend = BackendSpec(kind=spec.backend, model=spec.model, ollama_host=spec.ollama_host,
                                  cache=spec.cache, timeout=spec.llm_timeout)
        elif not spec.cache:
            backend = replace(backend, cache=False)
        params = dict(agent.params)
        if getattr(get_entry(agent.name).agent_class, "uses_response_model", False):
            params.setdefault("response_model", spec.response_model)
        if backend.kind != "scripted":
            params.setdefault("temperature", spec.temperature)
            params.setdefault("max_tokens", spec.max_tokens)
        resolved.append(replace(agent, backend=backend, params=params))
    return replace(spec, agents=resolved)


def with_response_model(spec: TournamentSpec, choice: str) -> TournamentSpec:
    """The same tournament with every scripted counterpart under the response model ``choice``."""
    choice = canonical_response_model(choice)
    agents = [replace(a, params=a.params | {"response_model": choice})
              if getattr(get_entry(a.name).agent_class, "uses_response_model", False) else a for a in spec.agents]
    return replace(spec, agents=agents, response_model=choice)


def canonical_response_model(choice: str) -> str:
    """A built-in name as is, a file as an absolute path (Ray workers may run elsewhere)."""
    if not isinstance(choice, str):
        raise ConfigError(f"response_model must be a string ({', '.join(BUILTIN_RESPONSE_MODELS)} or a .toml path), "
                          f"got {choice!r}")
    return choice if choice in BUILTIN_RESPONSE_MODELS else str(Path(choice).expanduser().resolve())


def default_agents() -> list[AgentSpec]:
    """Every built-in agent (plugins are opt-in: name them with --agents)."""
    return [AgentSpec(name) for name, entry in sorted(REGISTRY.items())
            if getattr(entry.factory, "__module__", "").startswith("agents.builtin")]
