"""The exported IQL selector: a small numpy MLP (no torch needed at tournament time)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from agents.emodistill.features import STATE_DIM
from envs import GOEMOTIONS_28

FORMAT_VERSION = 1


class SelectorPolicy:
    """Linear -> ReLU -> LayerNorm, twice, then Linear to one logit per emotion label.

    LayerNorm gains and biases (n0.*, n1.*) are optional: selectors trained by arena's stacked IQL
    networks have none; older files carry them."""

    def __init__(self, weights: dict[str, np.ndarray], meta: dict):
        self.w = weights
        self.meta = meta
        self.labels: tuple[str, ...] = tuple(meta.get("labels", GOEMOTIONS_28))
        if meta.get("format") != FORMAT_VERSION or meta.get("state_dim") != STATE_DIM:
            raise ValueError(f"selector format {meta.get('format')} / state_dim {meta.get('state_dim')} does not match "
                             f"this version ({FORMAT_VERSION} / {STATE_DIM}); retrain it")

    @staticmethod
    def _layer_norm(x: np.ndarray, gain: np.ndarray | float, bias: np.ndarray | float) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-5) * gain + bias

    def logits(self, state: np.ndarray) -> np.ndarray:
        x = np.asarray(state, dtype=np.float64)
        for i in (0, 1):
            x = np.maximum(0.0, x @ self.w[f"l{i}.weight"].T + self.w[f"l{i}.bias"])
            x = self._layer_norm(x, self.w.get(f"n{i}.weight", 1.0), self.w.get(f"n{i}.bias", 0.0))
        return x @ self.w["out.weight"].T + self.w["out.bias"]

    def choose(self, state: np.ndarray, rng: np.random.Generator, temperature: float = 0.0) -> str:
        """Greedy when temperature is 0, else a sample from softmax(logits / temperature)."""
        logits = self.logits(state)
        if temperature <= 0:
            return self.labels[int(np.argmax(logits))]
        z = (logits - logits.max()) / temperature
        p = np.exp(z) / np.exp(z).sum()
        return self.labels[int(rng.choice(len(p), p=p))]

    def save(self, path: str | Path) -> None:
        np.savez(path, __meta__=np.array(json.dumps(self.meta)), **self.w)

    @classmethod
    def load(cls, path: str | Path) -> "SelectorPolicy":
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["__meta__"]))
            weights = {k: data[k].astype(np.float64) for k in data.files if k != "__meta__"}
        return cls(weights, meta)
