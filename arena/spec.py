"""The tournament specification: from a TOML file and CLI flags (flags win), saved with the results."""
from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import tomli_w

from agents import REGISTRY, AgentSpec, get_entry
from agents.llm import BACKENDS, BackendSpec, ConfigError
from agents.response_model import BUILTIN_RESPONSE_MODELS, DEFAULT_RESPONSE_MODEL, load_response_model
from envs import (DEFAULT_MAX_MESSAGES, DEFAULT_TAXONOMY, DOMAINS, ROLE_KINDS, SPLITS, TAXONOMIES, get_domain,
                  load_scenarios)

MAX_REPEATS = 1000  # a bound, so that a typo (1e9) is refused at once instead of planning matches forever


MAX_LLM_PARALLEL = 4096  # the most sequences any serving engine batches (vLLM's largest max_num_seqs)


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
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.7
    max_tokens: int = 256
    llm_timeout: float = 60.0
    cache: bool = True
    workers: int = 2
    ray_address: str | None = None
    llm_parallel: int = 4  # requests in flight per served host, over the whole run
    llm_threads: int | None = None  # llama-cpp threads per process (None: cores / workers)
    prefix_reuse: bool = True  # llama-cpp: reuse each agent's evaluated prompt prefix (same replies)
    match_timeout: float = 600.0
    match_retries: int = 1
    response_model: str = DEFAULT_RESPONSE_MODEL
    # resuming only (never saved): replay the finished matches of agents whose code changed
    replay_changed: bool = False

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
                  (self.repeats <= MAX_REPEATS, f"--repeats must be at most {MAX_REPEATS} (got {self.repeats}); more "
                   "repeats add pairs within the same scenarios, not scenarios"),
                  (self.max_messages >= 2, "--max-messages must be at least 2"),
                  (self.workers >= 0, "--workers must be 0 (in-process) or more"),
                  (1 <= self.llm_parallel <= MAX_LLM_PARALLEL,
                   f"--llm-parallel must be between 1 and {MAX_LLM_PARALLEL} requests in flight per server, "
                   f"got {self.llm_parallel}"),
                  (self.llm_threads is None or self.llm_threads >= 1, "--llm-threads must be at least 1"),
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
            if getattr(get_entry(agent.name).agent_class, "interactive", False):
                raise ConfigError(f"agent {agent.name!r} is played by a person (arena serve's Play page); "
                                  "it cannot join a tournament")
            check_parameters(agent)
        self._check_roles()
        load_response_model(self.response_model)
        return self

    def _check_roles(self) -> None:
        """Every domain needs an agent for each role, or no match could be played."""
        for domain in self.domains:
            for kind in ROLE_KINDS:
                if not any(get_entry(a.name).agent_class.can_play(domain, kind) for a in self.agents):
                    role = get_domain(domain).role_name(kind)
                    raise ConfigError(f"no selected agent can play the {kind} role ({role}) in {domain}; add one, "
                                      f"e.g. vanilla" + (" or victim" if kind == "counterpart" else ""))

    def notes(self) -> list[str]:
        """Things about the settings a user should hear before the run (none of them errors)."""
        notes = []
        for domain in self.domains:
            available = len(load_scenarios(domain, self.split))
            if self.scenarios is not None and self.scenarios > available:
                notes.append(f"--scenarios {self.scenarios}: the {self.split} split of {domain} has only {available} "
                             f"scenarios; using all {available}")
        return notes

    def to_toml(self) -> str:
        """The settings as TOML (``tournament.toml``), each agent's backend table holding only what
        applies to its kind, and tournament-wide model settings only where some backend uses them."""
        kinds = {self.backend} | {a.resolved_backend.kind for a in self.agents}
        data = {k: v for k, v in asdict(self).items() if v is not None and k not in ("agents", "replay_changed")
                and set(SETTING_KINDS.get(k, kinds)) & kinds}
        data["agents"] = [_agent_table(a) for a in self.agents]
        return tomli_w.dumps(data)


MODEL_KINDS = ("llama-cpp", "ollama", "openai")
SERVED_KINDS = ("ollama", "openai")
# What of a backend table applies to each kind of backend (tournament.toml leaves the rest out).
BACKEND_KEYS: dict[str, tuple[str, ...]] = {
    "scripted": ("kind",),
    "llama-cpp": ("kind", "model", "cache", "cache_path", "threads", "batch_threads", "prefix_reuse", "contexts",
                  "eval_chunk", "eval_split", "lora_path", "grammar_shortlist", "fast_forward"),
    "ollama": ("kind", "model", "ollama_host", "cache", "cache_path", "timeout"),
    "openai": ("kind", "model", "base_url", "api_key_env", "cache", "cache_path", "timeout"),
}
# Tournament-wide settings that only agents on these backend kinds use (the others apply to every run).
SETTING_KINDS: dict[str, tuple[str, ...]] = {
    "model": MODEL_KINDS, "temperature": MODEL_KINDS, "max_tokens": MODEL_KINDS, "cache": MODEL_KINDS,
    "llm_timeout": SERVED_KINDS, "llm_parallel": SERVED_KINDS, "ollama_host": ("ollama",), "base_url": ("openai",),
    "api_key_env": ("openai",), "llm_threads": ("llama-cpp",), "prefix_reuse": ("llama-cpp",),
}


def _agent_table(agent: AgentSpec) -> dict[str, Any]:
    """An [[agents]] entry: name, label and parameters if any, and the backend (a bare kind where
    nothing else applies, as for scripted agents)."""
    table = {k: v for k, v in asdict(agent).items() if k != "backend" and v not in (None, {})}
    if agent.backend is not None:
        backend = {k: v for k, v in asdict(agent.backend).items()
                   if k in BACKEND_KEYS.get(agent.backend.kind, ()) and v is not None}
        table["backend"] = backend if len(backend) > 1 else agent.backend.kind
    return table


# The declared type of every setting (a TOML key or a flag); checked before anything runs.
FIELD_TYPES: dict[str, tuple[str, tuple[type, ...]]] = {
    "domains": ("a list of domain names", (list,)), "split": ("a string", (str,)),
    "scenarios": ("a whole number", (int,)), "repeats": ("a whole number", (int,)), "seed": ("a whole number", (int,)),
    "max_messages": ("a whole number", (int,)), "taxonomy": ("a string", (str,)),
    "converge_within": ("a whole number", (int,)), "backend": ("a string", (str,)), "model": ("a string", (str,)),
    "ollama_host": ("a URL or a list of URLs", (str, list)), "base_url": ("a URL or a list of URLs", (str, list)), "api_key_env": ("a string", (str,)),
    "temperature": ("a number", (int, float)),
    "max_tokens": ("a whole number", (int,)), "llm_timeout": ("a number", (int, float)), "cache": ("true or false", (bool,)),
    "workers": ("a whole number", (int,)), "ray_address": ("a string", (str,)), "llm_parallel": ("a whole number", (int,)),
    "llm_threads": ("a whole number", (int,)), "prefix_reuse": ("true or false", (bool,)),
    "match_timeout": ("a number", (int, float)), "match_retries": ("a whole number", (int,)),
    "response_model": ("a string", (str,)), "replay_changed": ("true or false", (bool,)), "agents": ("a list of agent names or [[agents]] tables", (list,)),
}


def check_types(values: dict[str, Any], source: str = "settings") -> None:
    """A ConfigError naming the key, the expected type and the value of the first ill-typed setting."""
    for key, value in values.items():
        if key not in FIELD_TYPES or value is None:
            continue
        expected, types = FIELD_TYPES[key]
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if ok and key == "domains":
            ok = all(isinstance(d, str) for d in value)
        if not ok:
            raise ConfigError(f"{source}: {key} must be {expected}, got {value!r}")


def check_parameters(agent: AgentSpec) -> None:
    """Unknown parameters of an agent that declares its parameters are an error with close names; a
    value the agent cannot use is an error in the agent's own words (its ``check_params``)."""
    cls = get_entry(agent.name).agent_class
    declared = cls.declared_parameters() if hasattr(cls, "declared_parameters") else None
    for key in agent.params if declared is not None else ():
        if key not in declared:
            close = difflib.get_close_matches(key, list(declared), n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}?" if close else f"it takes {', '.join(sorted(declared))}"
            raise ConfigError(f"agent {agent.display_name!r} ({agent.name}) has no parameter {key!r}; {hint}")
    try:
        getattr(cls, "check_params", lambda params: None)(dict(agent.params))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"agent {agent.display_name!r} ({agent.name}): {exc}") from None


def _agent_from_table(table: dict[str, Any] | str) -> AgentSpec:
    if isinstance(table, str):
        return AgentSpec(table)
    if not isinstance(table, dict):
        raise ConfigError(f"agent entry {table!r}: must be a name or a table with 'name'")
    unknown = set(table) - {"name", "params", "backend", "label"}
    if unknown or "name" not in table:
        raise ConfigError(f"agent entry {table!r}: needs 'name'; allowed keys are name, params, backend, label")
    for key, types, expected in (("name", (str,), "a string"), ("label", (str,), "a string"),
                                 ("params", (dict,), "a table, e.g. params = { emotion = \"anger\" }"),
                                 ("backend", (str, dict), "a backend name or a table")):
        if key in table and not isinstance(table[key], types):
            raise ConfigError(f"agent {table.get('name')!r}: {key} must be {expected}, got {table[key]!r}")
    backend = table.get("backend")
    if isinstance(backend, dict):
        backend = dict(backend)
        _join_host_lists(backend, f"agent {table['name']!r}")
        try:
            backend = BackendSpec(**backend)
        except TypeError as exc:
            raise ConfigError(f"agent {table['name']!r}: bad backend table: {exc}") from None
    elif backend is not None:
        backend = BackendSpec(kind=str(backend))
    return AgentSpec(table["name"], dict(table.get("params", {})), backend, table.get("label"))


def _join_host_lists(data: dict[str, Any], source: str) -> None:
    """Several servers may be given as a TOML list; they are kept as one comma-separated string."""
    for key in ("ollama_host", "base_url"):
        value = data.get(key)
        if isinstance(value, list):
            if not value or not all(isinstance(h, str) and h.strip() and "," not in h for h in value):
                raise ConfigError(f"{source}: {key} must list server URLs, got {value!r}")
            data[key] = ",".join(h.strip() for h in value)


def read_toml(path: str | Path, what: str = "config file") -> tuple[dict[str, Any], str]:
    """A TOML file's data and text; a ConfigError naming the file and what is wrong with it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        return tomllib.loads(text), text
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a directory; give a .toml file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{what} {path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}") from None


def load_spec_file(path: str | Path) -> dict[str, Any]:
    """Read a tournament TOML file into spec fields."""
    data, _ = read_toml(path)
    known = {f.name for f in fields(TournamentSpec)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"config file {path}: unknown keys {', '.join(unknown)}")
    check_types(data, f"config file {path}")
    _join_host_lists(data, f"config file {path}")
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
                                  base_url=spec.base_url, api_key_env=spec.api_key_env, cache=spec.cache,
                                  timeout=spec.llm_timeout)
        elif not spec.cache:
            backend = replace(backend, cache=False)
        if backend.kind == "llama-cpp" and backend.threads is None:
            backend = replace(backend, threads=model_threads(spec))
        if backend.kind == "llama-cpp" and not spec.prefix_reuse:
            backend = replace(backend, prefix_reuse=False)
        params = dict(agent.params)
        if getattr(get_entry(agent.name).agent_class, "uses_response_model", False):
            params.setdefault("response_model", spec.response_model)
        if backend.kind != "scripted":
            params.setdefault("temperature", spec.temperature)
            params.setdefault("max_tokens", spec.max_tokens)
        resolved.append(replace(agent, backend=backend, params=params))
    return replace(spec, agents=resolved)


def model_threads(spec: TournamentSpec) -> int:
    """Threads for an embedded model: ``--llm-threads``, else every core shared out over the workers
    (in-process: all of them), so workers x threads matches the machine."""
    if spec.llm_threads:
        return spec.llm_threads
    return max(1, (os.cpu_count() or 1) // max(1, spec.workers))


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
