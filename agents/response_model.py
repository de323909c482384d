"""The scripted counterparts' emotional response model: a declared, swappable assumption.

A scripted counterpart concedes along its time curve; the step toward its reservation is multiplied
by ``1 + susceptibility[persona] * sum_e p(e) * effect[e]`` (clipped), where p is the Ekman-7
distribution sensed in the other side's message. Who wins against scripted counterparts is decided
by that table, so the table is a choice recorded with every result:

- ``default``: ``agents/data/response_model.toml`` (directions from the negotiation literature,
  magnitudes assumed);
- ``flat``: every effect zero, so expressed emotion changes nothing;
- ``reversed``: every effect negated (the literature's directions turned around);
- a path to a TOML file with the same keys as the default.
"""
from __future__ import annotations

import functools
import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.llm import ConfigError
from agents.texts import load_data
from envs import EKMAN_7

BUILTIN_RESPONSE_MODELS = ("default", "flat", "reversed")
DEFAULT_RESPONSE_MODEL = "default"


@dataclass(frozen=True)
class ResponseModel:
    """Effects per sensed emotion, susceptibility per persona, and the factor's bounds."""

    name: str
    effect: dict[str, float]
    susceptibility: dict[str, float]
    min_factor: float
    max_factor: float

    def factor(self, sensed: dict[str, float], persona: str) -> float:
        """Multiplier on the next concession step given the emotion sensed in the other side's message."""
        susceptibility = self.susceptibility.get(persona, self.susceptibility["default"])
        effect = sum(p * self.effect.get(label, 0.0) for label, p in sensed.items())
        return min(self.max_factor, max(self.min_factor, 1.0 + susceptibility * effect))


def _number_table(data: dict[str, Any], key: str, where: str) -> dict[str, float]:
    table = data.get(key)
    if not isinstance(table, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                              for v in table.values()):
        raise ConfigError(f"response model {where}: [{key}] must be a table of numbers")
    return {str(k): float(v) for k, v in table.items()}


def _from_table(name: str, data: dict[str, Any], where: str) -> ResponseModel:
    effect = _number_table(data, "effect", where)
    unknown = sorted(set(effect) - set(EKMAN_7))
    if unknown:
        raise ConfigError(f"response model {where}: unknown emotions in [effect]: {', '.join(unknown)} "
                          f"(the sensor reports {', '.join(EKMAN_7)})")
    susceptibility = _number_table(data, "susceptibility", where)
    if "default" not in susceptibility:
        raise ConfigError(f"response model {where}: [susceptibility] needs a 'default' entry")
    bounds = [data.get(k) for k in ("min_factor", "max_factor")]
    if not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds) or not 0 <= bounds[0] <= bounds[1]:
        raise ConfigError(f"response model {where}: needs numbers 0 <= min_factor <= max_factor")
    return ResponseModel(name, effect, susceptibility, float(bounds[0]), float(bounds[1]))


@functools.lru_cache(maxsize=32)
def load_response_model(choice: str) -> ResponseModel:
    """``default``, ``flat``, ``reversed`` or a TOML path; a ConfigError names what is wrong."""
    base = _from_table("default", load_data("response_model.toml"), "default")
    if choice == "default":
        return base
    if choice == "flat":
        return ResponseModel("flat", {k: 0.0 for k in base.effect}, base.susceptibility, base.min_factor, base.max_factor)
    if choice == "reversed":
        return ResponseModel("reversed", {k: -v for k, v in base.effect.items()}, base.susceptibility,
                             base.min_factor, base.max_factor)
    path = Path(choice)
    if path.suffix != ".toml":
        raise ConfigError(f"response model must be {', '.join(BUILTIN_RESPONSE_MODELS)} or a .toml file, got {choice!r}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"response model file {choice} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"response model file {choice}: cannot read it ({type(exc).__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"response model file {choice} is not valid TOML: {exc}") from None
    return _from_table(str(path), data, f"file {choice}")


def response_model_identity(choice: str) -> str:
    """What decides the model's effect: the built-in name, or the file's path and content digest."""
    if choice in BUILTIN_RESPONSE_MODELS:
        return choice
    load_response_model(choice)
    return f"{choice}#sha256:{hashlib.sha256(Path(choice).read_bytes()).hexdigest()[:16]}"


def concession_factor(sensed: dict[str, float], persona: str, model: str = DEFAULT_RESPONSE_MODEL) -> float:
    """Multiplier on the next concession step under the response model named ``model``."""
    return load_response_model(model).factor(sensed, persona)
