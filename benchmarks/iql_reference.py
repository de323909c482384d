"""The baseline for the IQL benchmark: the same update written the straightforward way.

Three separate torch.nn networks (Linear -> ReLU -> LayerNorm with gain and bias, twice, then
Linear), a deep-copied target Q, torch's clip_grad_norm_ per network, one Adam. arena's trainer
(arena/training/iql_trainer.py) stacks them in one parameter table with a written-out backward
pass instead; this file exists to measure that choice.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from arena.training.iql import IQLConfig

FIELDS = ("states", "actions", "rewards", "next_states", "dones")


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.LayerNorm(hidden),
                         nn.Linear(hidden, hidden), nn.ReLU(), nn.LayerNorm(hidden), nn.Linear(hidden, n_out))


class ReferenceIQL:
    """One IQL update per step() with three separate networks."""

    def __init__(self, data: dict[str, np.ndarray], config: IQLConfig | None = None):
        config = config or IQLConfig()
        torch.manual_seed(config.seed)
        self.config, self.rng = config, np.random.default_rng(config.seed)
        self.data = {k: torch.as_tensor(data[k]) for k in FIELDS}
        self.data["rewards"] = self.data["rewards"] / (float(np.abs(data["rewards"]).max()) or 1.0)
        n_in, n_actions = data["states"].shape[1], 28
        self.q, self.v, self.pi = (_mlp(n_in, config.hidden, n) for n in (n_actions, 1, n_actions))
        self.q_target = copy.deepcopy(self.q).requires_grad_(False)
        self.nets = (self.q, self.v, self.pi)
        self.optim = torch.optim.Adam([p for net in self.nets for p in net.parameters()], lr=config.lr, fused=True)

    def step(self) -> None:
        c = self.config
        idx = torch.as_tensor(self.rng.integers(0, len(self.data["actions"]), c.batch))
        s, a, r, s2, done = (self.data[k][idx] for k in FIELDS)
        with torch.no_grad():
            q_target = self.q_target(s).gather(1, a[:, None]).squeeze(1)
            td_target = r + c.gamma * (1 - done) * self.v(s2).squeeze(1)
        diff = q_target - self.v(s).squeeze(1)
        expectile_weight = torch.where(diff > 0, c.expectile, 1 - c.expectile)
        awr_weight = torch.clamp(torch.exp(c.beta * diff.detach()), max=c.max_weight)
        log_prob = torch.log_softmax(self.pi(s), -1).gather(1, a[:, None]).squeeze(1)
        loss = (((self.q(s).gather(1, a[:, None]).squeeze(1) - td_target) ** 2).mean()
                + (expectile_weight * diff ** 2).mean() - (awr_weight * log_prob).mean())
        self.optim.zero_grad()
        loss.backward()
        for net in self.nets:
            nn.utils.clip_grad_norm_(net.parameters(), c.max_grad_norm)
        self.optim.step()
        with torch.no_grad():
            torch._foreach_lerp_(list(self.q_target.parameters()), list(self.q.parameters()), c.polyak)
