"""EmoDistill stage 2: an Implicit Q-Learning emotion selector (torch), exported for numpy.

Expectile 0.7 for V, TD(0) for Q with a Polyak target (tau 0.005), advantage-weighted policy
extraction with beta 3 (weights capped at 100), gamma 0.99, Adam 3e-4, batch 256, hidden 256,
gradient-norm clip 1.0 per network; rewards scaled by their largest magnitude. Q is a plain MLP
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
    beta: float = 3.0
    gamma: float = 0.99
    lr: float = 3e-4
    polyak: float = 0.005
    max_weight: float = 100.0
    max_grad_norm: float = 1.0
    seed: int = 0


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
