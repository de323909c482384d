"""EmoDistill stage 2: an Implicit Q-Learning emotion selector (torch), exported for numpy.

Expectile 0.7 for V, TD(0) for Q with a Polyak target (tau 0.005), advantage-weighted policy
extraction (weights capped at 100), gamma 0.99, Adam 3e-4, batch 256, hidden 256,
gradient-norm clip 1.0 per network. Per-turn rewards are standardised (divided by their standard
deviation, about 0.014, computed without the terminal bonus) and the +-2 terminal bonus is added back
unscaled (``reward_scaling="standardise"``), so per-turn differences keep a usable size; this weighs
the bonus less against the per-turn terms than the paper's return does. ``"shaping-std"`` divides the
bonus too (the paper's return up to one factor, but the bonus then dwarfs the per-turn differences
and Q cannot resolve them in 20,000 steps); ``"max"`` (the earlier selectors) divided everything by
the largest reward, leaving a best-to-worst gap of about 0.004 and a uniform policy. beta = 10
(the paper: 3). Q is a plain MLP
head as in Kostrikov et al.'s IQL (the EmoDistill code's dueling head cost about 20% more time).
This module needs no torch (its configuration and error messages); the update is in iql_trainer.py.
"""
from __future__ import annotations

import ctypes
import platform
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from agents.llm import ConfigError

if TYPE_CHECKING:
    from agents.emodistill import SelectorPolicy


@dataclass(frozen=True)
class IQLConfig:
    steps: int = 20_000
    batch: int = 256
    hidden: int = 256
    expectile: float = 0.7
    beta: float = 10.0  # the paper's 3 gave a flatter policy that won less when sampled (see docs/papers/emodistill.md)
    gamma: float = 0.99
    lr: float = 3e-4
    polyak: float = 0.005
    max_weight: float = 100.0
    max_grad_norm: float = 1.0
    seed: int = 0
    reward_scaling: str = "standardise"  # or "shaping-std", or "max" (the earlier, near-uniform selectors)


REWARD_SCALINGS = ("standardise", "shaping-std", "max")


def scaled_rewards(data: dict[str, np.ndarray], scaling: str) -> tuple[np.ndarray, float]:
    """The rewards IQL trains on and the divisor applied to the per-turn part.

    "standardise": per-turn rewards divided by their standard deviation, the terminal bonus added
    back as it is (+-2); "shaping-std": every reward, bonus included, divided by that deviation;
    "max": every reward divided by the largest magnitude."""
    rewards = np.asarray(data["rewards"], dtype=np.float64)
    scale = reward_scale(data, scaling)
    if scaling == "standardise":
        terminals = np.asarray(data["terminals"], dtype=np.float64)
        return ((rewards - terminals) / scale + terminals).astype(np.float32), scale
    return (rewards / scale).astype(np.float32), scale


def reward_scale(data: dict[str, np.ndarray], scaling: str) -> float:
    """The divisor of every reward: the spread of the per-turn rewards without the terminal bonus, or
    the largest magnitude of all rewards ("max")."""
    rewards = np.asarray(data["rewards"], dtype=np.float64)
    if scaling == "max":
        return float(np.abs(rewards).max()) or 1.0
    if scaling not in REWARD_SCALINGS:
        raise ConfigError(f"unknown reward_scaling {scaling!r}; choose from {', '.join(REWARD_SCALINGS)}")
    if "terminals" not in data:
        raise ConfigError("these transitions carry no terminal bonus column: rebuild them (--stage sweep)")
    shaping = rewards - np.asarray(data["terminals"], dtype=np.float64)
    return float(shaping.std()) or 1.0


def require_torch():
    try:
        import torch
    except ImportError:
        raise ConfigError("training the IQL selector needs torch: pip install 'eq-arena[train]' "
                          "(on a CPU-only machine: pip install torch==2.13.0)") from None
    return torch


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks of up to 32 MB in the heap instead of returning them to the OS.

    Each IQL step allocates and frees dozens of ~800 KB activations; by default glibc often hands them
    back, and the next step page-faults hundreds of times to get them again (about 10% of the step
    time on a 2-core VM). Process-wide; a no-op returning False outside glibc."""
    if platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_threshold = -1, -3  # from <malloc.h>
    return bool(libc.mallopt(m_mmap_threshold, 32 << 20) and libc.mallopt(m_trim_threshold, 256 << 20))


def train_iql(data: dict[str, np.ndarray], config: IQLConfig = IQLConfig(), domain: str | None = None,
              progress: Callable[[int], None] | None = None) -> SelectorPolicy:
    """Train on transitions (states, actions, rewards, next_states, dones) and export the policy."""
    require_torch()
    from arena.training.iql_trainer import IQLTrainer

    keep_freed_memory()
    trainer = IQLTrainer(data, config)
    for step in range(config.steps):
        trainer.step()
        if progress:
            progress(step + 1)
    return trainer.export(domain)
