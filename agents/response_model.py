"""The scripted counterparts' emotional response model (parameters in data/response_model.toml)."""
from __future__ import annotations

from agents.texts import load_data


def concession_factor(sensed: dict[str, float], persona: str) -> float:
    """Multiplier on the next concession step given the emotion sensed in the other side's message."""
    table = load_data("response_model.toml")
    susceptibility = table["susceptibility"].get(persona, table["susceptibility"]["default"])
    effect = sum(p * table["effect"].get(label, 0.0) for label, p in sensed.items())
    factor = 1.0 + susceptibility * effect
    return min(table["max_factor"], max(table["min_factor"], factor))
