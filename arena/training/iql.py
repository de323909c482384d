"""EmoDistill stage 2: an Implicit Q-Learning emotion selector (torch), exported for numpy.

Expectile 0.7 for V, TD(0) for Q with a Polyak target (tau 0.005), advantage-weighted policy
extraction with beta 3 (weights capped at 100), gamma 0.99, Adam 3e-4, batch 256, hidden 256,
gradient-norm clip 1.0; rewards scaled by their largest magnitude. Q is a plain MLP head as in
Kostrikov et al.'s IQL (the EmoDistill code's dueling head cost about 20% more time per step).
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from agents.emodistill import STATE_DIM, SelectorPolicy
from agents.emodistill.policy import FORMAT_VERSION
from agents.llm import ConfigError
from envs import GOEMOTIONS_28


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
    seed: int = 0


def require_torch():
    try:
        import torch
    except ImportError:
        raise ConfigError("training the IQL selector needs torch: pip install 'eq-arena[train]' "
                          "(on a CPU-only machine: pip install torch==2.13.0)") from None
    return torch


def _networks(torch, n_actions: int, hidden: int):
    nn = torch.nn

    class Trunk(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.l0, self.n0 = nn.Linear(STATE_DIM, hidden), nn.LayerNorm(hidden)
            self.l1, self.n1 = nn.Linear(hidden, hidden), nn.LayerNorm(hidden)

        def forward(self, x):
            return self.n1(torch.relu(self.l1(self.n0(torch.relu(self.l0(x))))))

    class Policy(Trunk):
        def __init__(self) -> None:
            super().__init__()
            self.out = nn.Linear(hidden, n_actions)

        def forward(self, x):
            return self.out(super().forward(x))

    class Value(Trunk):
        def __init__(self) -> None:
            super().__init__()
            self.out = nn.Linear(hidden, 1)

        def forward(self, x):
            return self.out(super().forward(x)).squeeze(-1)

    return Policy(), Value(), Policy()  # Q has the policy's shape: one output per emotion


def train_iql(data: dict[str, np.ndarray], config: IQLConfig = IQLConfig(), domain: str | None = None,
              progress: Callable[[int], None] | None = None) -> SelectorPolicy:
    """Train on transitions (states, actions, rewards, next_states, dones) and export the policy."""
    torch = require_torch()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    tensors = {k: torch.as_tensor(data[k]) for k in ("states", "actions", "rewards", "next_states", "dones")}
    scale = float(np.abs(data["rewards"]).max()) or 1.0
    tensors["rewards"] = tensors["rewards"] / scale
    q, v, pi = _networks(torch, len(GOEMOTIONS_28), config.hidden)
    q_target = copy.deepcopy(q).requires_grad_(False)
    nets = (q, v, pi)
    # The three losses touch disjoint parameters, so one backward pass and one Adam over all of them
    # equals three separate optimisers (Adam is per parameter), at a fraction of the Python overhead.
    optim = torch.optim.Adam([p for net in nets for p in net.parameters()], lr=config.lr, fused=True)
    online, target_params = list(q.parameters()), list(q_target.parameters())
    n = len(data["actions"])
    for step in range(config.steps):
        idx = torch.as_tensor(rng.integers(0, n, config.batch))
        s, a, r, s2, d = (tensors[k][idx] for k in ("states", "actions", "rewards", "next_states", "dones"))
        with torch.no_grad():
            q_sa = q_target(s).gather(1, a[:, None]).squeeze(1)
        v_both = v(torch.cat([s, s2]))  # one pass for V(s) and V(s')
        v_s, target = v_both[: len(s)], r + config.gamma * (1 - d) * v_both[len(s):].detach()
        diff = q_sa - v_s
        expectile_weight = torch.where(diff > 0, config.expectile, 1 - config.expectile)
        awr_weight = torch.clamp(torch.exp(config.beta * diff.detach()), max=config.max_weight)
        log_prob = torch.log_softmax(pi(s), -1).gather(1, a[:, None]).squeeze(1)
        loss = (((q(s).gather(1, a[:, None]).squeeze(1) - target) ** 2).mean()
                + (expectile_weight * diff ** 2).mean() - (awr_weight * log_prob).mean())
        optim.zero_grad()
        loss.backward()
        for net in nets:
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optim.step()
        with torch.no_grad():
            torch._foreach_lerp_(target_params, online, config.polyak)
        if progress:
            progress(step + 1)
    weights = {k: val.detach().cpu().numpy().astype(np.float32) for k, val in pi.state_dict().items()}
    meta = {"format": FORMAT_VERSION, "state_dim": STATE_DIM, "labels": list(GOEMOTIONS_28), "domain": domain,
            "transitions": int(n), "reward_scale": scale, "iql": asdict(config)}
    return SelectorPolicy(weights, meta)
