"""The vanilla agent: the model gets the scenario and the dialogue, and no emotional guidance."""
from __future__ import annotations

from agents.builtin.common import TimeDependent
from agents.registry import register


@register("vanilla")
class Vanilla(TimeDependent):
    """Either role. With a model: a plain prompt. Scripted: time-based concession (e = 0.6), neutral messages."""

    name = "vanilla"
    description = "Plain LLM negotiator, no emotional guidance (scripted: time-based concession, neutral)."
    exponent = 0.6
