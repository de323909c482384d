"""Build backends from a plain, picklable spec; one instance per process and spec."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace

from agents.llm.base import Backend, ConfigError
from agents.llm.cache import CachedBackend, ResponseCache
from agents.llm.scripted import ScriptedBackend

BACKENDS = ("scripted", "llama-cpp", "ollama", "openai")
EVAL_SPLITS = ("lines", "fixed")  # llama-cpp: where prompt chunks end (see agents.llm.llama_cpp.chunk_ends)


@dataclass(frozen=True)
class BackendSpec:
    """Which backend an agent speaks through; plain data so a Ray worker can rebuild it."""

    kind: str = "scripted"
    model: str | None = None
    ollama_host: str | None = None
    base_url: str | None = None  # the OpenAI-compatible server
    api_key_env: str = "OPENAI_API_KEY"  # the name of the variable holding its key (never the key)
    cache: bool = True
    cache_path: str | None = None
    timeout: float = 60.0
    threads: int | None = None  # llama-cpp: CPU threads for the model (None: all cores)
    batch_threads: int | None = None  # llama-cpp: threads for prompt evaluation (None: as many as ``threads``)
    prefix_reuse: bool = True  # llama-cpp: keep each context's evaluated prompt prefix (same replies, faster)
    contexts: int = 4  # llama-cpp: model contexts per process (each agent of a match, side questions)
    eval_chunk: int = 64  # llama-cpp: the most prompt tokens per decode (changes arithmetic)
    eval_split: str = "lines"  # llama-cpp: prompt chunks end after lines, or "fixed" every eval_chunk (changes arithmetic)
    lora_path: str | None = None  # llama-cpp: a GGUF LoRA adapter applied to the model
    grammar_shortlist: bool = True  # llama-cpp: check grammars on a shortlist where that gives the same tokens
    fast_forward: bool = False  # llama-cpp: append the text a reply's grammar forces instead of drawing it (changes replies)

    def __post_init__(self) -> None:
        if self.kind not in BACKENDS:
            raise ConfigError(f"unknown backend {self.kind!r}; choose one of {', '.join(BACKENDS)}")
        if self.eval_split not in EVAL_SPLITS:
            raise ConfigError(f"eval_split {self.eval_split!r}: choose one of {', '.join(EVAL_SPLITS)}")
        for name in ("cache", "prefix_reuse", "grammar_shortlist", "fast_forward"):
            if not isinstance(getattr(self, name), bool):  # a backend table's "no" would read as true
                raise ConfigError(f"backend {name} must be true or false, got {getattr(self, name)!r}")


_INSTANCES: dict[BackendSpec, Backend] = {}


def backend_build(spec: BackendSpec) -> str:
    """What computes this backend's replies beyond its identity, where this process can tell: the
    llama.cpp build for llama-cpp (another build may give other numbers); "" for the rest."""
    if spec.kind != "llama-cpp":
        return ""
    from agents.llm.llama_loading import build_identity

    return build_identity()


def _build(spec: BackendSpec) -> Backend:
    if spec.kind == "scripted":
        return ScriptedBackend()
    if spec.kind == "llama-cpp":
        from agents.llm.llama_cpp import LlamaCppBackend

        threads = spec.threads or os.cpu_count() or 1
        return LlamaCppBackend(spec.model, n_threads=threads, n_threads_batch=spec.batch_threads or threads,
                               prefix_reuse=spec.prefix_reuse, contexts=spec.contexts, eval_chunk=spec.eval_chunk,
                               lora_path=spec.lora_path, grammar_shortlist=spec.grammar_shortlist,
                               eval_split=spec.eval_split, fast_forward=spec.fast_forward)
    if spec.kind == "openai":
        from agents.llm.openai_backend import OpenAIBackend

        return OpenAIBackend(spec.model, spec.base_url, spec.api_key_env, timeout=spec.timeout)
    from agents.llm.ollama_backend import OllamaBackend

    if not spec.model:
        raise ConfigError("the ollama backend needs a model name: --model NAME")
    return OllamaBackend(spec.model, host=spec.ollama_host, timeout=spec.timeout)


def outcome_identity(spec: BackendSpec) -> list:
    """What of a backend decides the replies: kind and model, and for llama-cpp how prompts are split
    into chunks, its adapter and fast-forwarding (runs before line splitting recorded the fixed chunk
    alone, runs before fast-forwarding no mark of it)."""
    if spec.kind != "llama-cpp":
        return [spec.kind, spec.model]
    from agents.llm.llama_loading import adapter_digest

    split = [] if spec.eval_split == "fixed" else [spec.eval_split]
    lora = [adapter_digest(spec.lora_path)] if spec.lora_path else []
    return [spec.kind, spec.model, spec.eval_chunk, *split, *lora] + (["fast_forward"] if spec.fast_forward else [])


def servers_of(spec: BackendSpec) -> tuple[str, ...]:
    """The served-model hosts a backend may talk to, in the order given (none for in-process backends);
    ``ollama_host`` and ``base_url`` may list several, separated by commas."""
    if spec.kind == "ollama":
        from agents.llm.ollama_backend import resolve_host

        listed = resolve_host(spec.ollama_host)
    elif spec.kind == "openai":
        listed = spec.base_url or ""
    else:
        return ()
    return tuple(dict.fromkeys(h.strip().rstrip("/") for h in listed.split(",") if h.strip()))


def server_of(spec: BackendSpec) -> str | None:
    """The one host a pinned backend talks to (the first listed; None for in-process backends)."""
    hosts = servers_of(spec)
    return hosts[0] if hosts else None


def on_host(spec: BackendSpec, host: str) -> BackendSpec:
    """The same backend pinned to one of its hosts."""
    return replace(spec, ollama_host=host) if spec.kind == "ollama" else replace(spec, base_url=host)


def make_backend(spec: BackendSpec) -> Backend:
    """The backend for ``spec`` (model backends wrapped in the response cache unless turned off)."""
    if spec not in _INSTANCES:
        backend = _build(spec)
        if spec.cache and not backend.is_scripted:
            backend = CachedBackend(backend, ResponseCache(spec.cache_path))
        _INSTANCES[spec] = backend
    return _INSTANCES[spec]
