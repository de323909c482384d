"""The EmoDistill agent: an offline-trained IQL selector picks the emotion, the backend expresses it."""
from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

from agents.base import Observation, ScenarioView
from agents.builtin.common import check_number
from agents.builtin.emotional import EmotionStyled
from agents.emodistill import SelectorPolicy, observable_frame, state_features
from agents.llm import BackendSpec, ConfigError, make_backend
from agents.registry import register


def shipped_selector_path(domain: str) -> Path:
    return Path(str(resources.files("agents").joinpath(f"data/emodistill/{domain}.npz")))


@functools.lru_cache(maxsize=16)
def load_selector(path: str) -> SelectorPolicy:
    if not Path(path).is_file():
        raise ConfigError(f"no EmoDistill selector at {path}; train one: arena train emodistill --domain DOMAIN")
    return SelectorPolicy.load(path)


@register("emodistill")
class EmoDistill(EmotionStyled):
    """Focal role. Parameters: selector (a .npz path; default: the shipped one for the domain),
    temperature_emotion (1.0, sampling as the authors evaluated; 0 = greedy), expression_adapter (a GGUF
    LoRA from ``arena train emodistill --stage sft|jpo``, played through llama-cpp on expression_base),
    expression_model (an Ollama model serving a LoRA-tuned expression policy), ollama_host."""

    name = "emodistill"
    parameters = {"selector": "a trained selector .npz (default: the shipped one for the domain)",
                  "temperature_emotion": "sampling temperature of the selector (1.0; 0 = greedy)",
                  "expression_adapter": "a GGUF LoRA expression adapter, played through llama-cpp",
                  "expression_base": "the GGUF base model of expression_adapter (default: smollm2-135m)",
                  "expression_model": "an Ollama model serving a LoRA-tuned expression policy",
                  "ollama_host": "the Ollama server of expression_model"}
    description = "IQL emotion selector trained offline (EmoDistill) + emotion-conditioned expression."

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> None:
        super().check_params(params)
        check_number(params, "temperature_emotion", 0)
        if params.get("expression_model") and params.get("expression_adapter"):
            raise ValueError("it takes expression_adapter (llama-cpp) or expression_model (Ollama), not both")
        for key in ("selector", "expression_adapter"):
            if params.get(key) and not Path(str(params[key])).expanduser().is_file():
                raise ValueError(f"{key} {params[key]} is not a file")

    def reset(self, view: ScenarioView, role: str, seed: int) -> None:
        expression_model, adapter = self.params.get("expression_model"), self.params.get("expression_adapter")
        if adapter:
            self.backend = make_backend(BackendSpec("llama-cpp", self.params.get("expression_base"), lora_path=str(adapter)))
        elif expression_model:
            spec = BackendSpec("ollama", expression_model, ollama_host=self.params.get("ollama_host"))
            self.backend = make_backend(spec)
        super().reset(view, role, seed)
        path = self.params.get("selector") or str(shipped_selector_path(view.domain.name))
        self.selector = load_selector(str(path))
        if self.selector.meta.get("domain") not in (None, view.domain.name):
            raise ConfigError(f"selector {path} was trained for {self.selector.meta['domain']}, not {view.domain.name}")
        self.previous: str | None = None

    def pick_emotion(self, obs: Observation) -> str:
        moves = [(t.kind, t.move, t.value) for t in obs.transcript]
        frame = observable_frame(self.view.target, moves)
        state = state_features(frame, moves, obs.turn, self.view.max_messages, self.previous)
        temperature = float(self.params.get("temperature_emotion", 1.0))
        self.previous = self.selector.choose(state, self.rng, temperature)
        return self.previous
