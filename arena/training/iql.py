"""EmoDistill stage 2: an Implicit Q-Learning emotion selector (torch), exported for numpy.

Expectile 0.7 for V, TD(0) for Q with a Polyak target (tau 0.005), advantage-weighted policy
extraction with beta 3 (weights capped at 100), gamma 0.99, Adam 3e-4, batch 256, hidden 256,
gradient-norm clip 1.0 per network; rewards scaled by their largest magnitude. Q is a plain MLP
head as in Kostrikov et al.'s IQL (the EmoDistill code's dueling head cost about 20% more time).
"""
from __future__ import annotations

import ctypes
import platform
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from agents.emodistill import STATE_DIM, SelectorPolicy
from agents.emodistill.policy import FORMAT_VERSION
from agents.llm import ConfigError
from envs import GOEMOTIONS_28

Q, V, PI = 0, 1, 2  # members of the stacked network


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


class IQLTrainer:
    """Q, V and the policy as three members of one StackedMLP, plus a one-member Polyak copy of Q."""

    def __init__(self, data: dict[str, np.ndarray], config: IQLConfig):
        torch = self.torch = require_torch()
        from arena.training.stacked import StackedMLP

        torch.manual_seed(config.seed)
        self.config, self.rng = config, np.random.default_rng(config.seed)
        self.reward_scale = float(np.abs(data["rewards"]).max()) or 1.0
        rewards = np.asarray(data["rewards"], np.float32) / self.reward_scale
        # one row per transition, so a batch is two index operations: [s | s' | r | done] and a
        self.rows = torch.as_tensor(np.column_stack([data["states"], data["next_states"], rewards, data["dones"]]),
                                    dtype=torch.float32)
        self.actions = torch.as_tensor(data["actions"], dtype=torch.int64)
        self.size = len(self.actions)
        self.nets = StackedMLP(3, STATE_DIM, config.hidden, len(GOEMOTIONS_28))
        self.q_target = self.nets.copy_member(Q)
        self.optim = torch.optim.Adam(self.nets.parameters(), lr=config.lr, fused=True)

    def sample(self):
        idx = self.torch.as_tensor(self.rng.integers(0, self.size, self.config.batch))
        rows = self.rows[idx]
        return rows[:, :STATE_DIM], self.actions[idx], rows[:, -2], rows[:, STATE_DIM:-2], rows[:, -1]

    def loss(self, s, a, r, s2, done):
        """The three IQL losses, summed: they touch disjoint parameters, so one backward pass serves all."""
        torch, c = self.torch, self.config
        with torch.no_grad():
            q_target = self.q_target(s)[0].gather(1, a[:, None]).squeeze(1)
            td_target = r + c.gamma * (1 - done) * self.nets(s2, V)[0, :, 0]
        out = self.nets(s)
        q_sa, v_s = out[Q].gather(1, a[:, None]).squeeze(1), out[V, :, 0]  # V reads its first output only
        log_prob = torch.log_softmax(out[PI], -1).gather(1, a[:, None]).squeeze(1)
        diff = q_target - v_s
        expectile_weight = torch.where(diff > 0, c.expectile, 1 - c.expectile)
        awr_weight = torch.clamp(torch.exp(c.beta * diff.detach()), max=c.max_weight)
        return (((q_sa - td_target) ** 2).mean() + (expectile_weight * diff ** 2).mean()
                - (awr_weight * log_prob).mean())

    def step(self) -> None:
        self.optim.zero_grad()
        self.loss(*self.sample()).backward()
        self.nets.clip_grad_norm_per_member(self.config.max_grad_norm)
        self.optim.step()
        self.nets.polyak_update(self.q_target, Q, self.config.polyak)

    def export(self, domain: str | None) -> SelectorPolicy:
        meta = {"format": FORMAT_VERSION, "state_dim": STATE_DIM, "labels": list(GOEMOTIONS_28), "domain": domain,
                "transitions": int(self.size), "reward_scale": self.reward_scale, "iql": asdict(self.config)}
        return SelectorPolicy(self.nets.member_weights(PI), meta)


def train_iql(data: dict[str, np.ndarray], config: IQLConfig = IQLConfig(), domain: str | None = None,
              progress: Callable[[int], None] | None = None) -> SelectorPolicy:
    """Train on transitions (states, actions, rewards, next_states, dones) and export the policy."""
    keep_freed_memory()
    trainer = IQLTrainer(data, config)
    for step in range(config.steps):
        trainer.step()
        if progress:
            progress(step + 1)
    return trainer.export(domain)
