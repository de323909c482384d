"""The IQL update itself (torch): Q, V and the policy as one stacked network, see stacked.py."""
from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch

from agents.emodistill import STATE_DIM, SelectorPolicy
from agents.emodistill.policy import FORMAT_VERSION
from arena.training.iql import IQLConfig, scaled_rewards
from arena.training.stacked import Activations, MLPShape, StackedMLP, backward, clip_rows_, forward
from envs import GOEMOTIONS_28

Q, V, PI, Q_TARGET = 0, 1, 2, 3  # rows of the parameter table; the first three are trained


def iql_loss(out: torch.Tensor, actions: torch.Tensor, q_target: torch.Tensor, td_target: torch.Tensor,
             config: IQLConfig) -> torch.Tensor:
    """The objective: the three IQL losses, summed, from the online outputs out [3, batch, labels].

    Training uses its gradient, `loss_gradient`; this scalar form states what that gradient is of
    (tests check the two agree through autograd)."""
    pick = actions[:, None]
    q_sa, v_s = out[Q].gather(1, pick).squeeze(1), out[V, :, 0]  # V reads its first output only
    log_prob = torch.log_softmax(out[PI], -1).gather(1, pick).squeeze(1)
    diff = q_target - v_s
    expectile_weight = torch.where(diff > 0, config.expectile, 1 - config.expectile)
    awr_weight = torch.clamp(torch.exp(config.beta * diff.detach()), max=config.max_weight)
    return (((q_sa - td_target) ** 2).mean() + (expectile_weight * diff ** 2).mean()
            - (awr_weight * log_prob).mean())


def loss_gradient(out: torch.Tensor, actions: torch.Tensor, q_target: torch.Tensor, td_target: torch.Tensor,
                  config: IQLConfig) -> torch.Tensor:
    """d iql_loss / d out, written out: the three terms touch disjoint members (Q, V, policy)."""
    n, pick = len(actions), actions[:, None]
    grad = torch.zeros_like(out)
    q_sa = out[Q].gather(1, pick).squeeze(1)
    grad[Q].scatter_(1, pick, (q_sa - td_target).mul_(2 / n)[:, None])  # squared TD error
    diff = q_target - out[V, :, 0]
    weight = torch.where(diff > 0, config.expectile, 1 - config.expectile)
    grad[V, :, 0] = weight.mul_(diff).mul_(-2 / n)  # expectile regression of V towards Q_target
    awr = torch.exp(diff.mul_(config.beta)).clamp_(max=config.max_weight).div_(n)
    grad[PI] = torch.softmax(out[PI], -1).mul_(awr[:, None])  # advantage-weighted log-likelihood:
    grad[PI].scatter_add_(1, pick, awr.neg_()[:, None])  # awr (softmax - onehot(action))
    return grad


class IQLTrainer:
    """Q, V and the policy as the three trained members of a stack whose fourth member is the
    Polyak target of Q: the target reads the same states as the others, so one forward pass of
    four members serves both (four members also split evenly across two threads)."""

    def __init__(self, data: dict[str, np.ndarray], config: IQLConfig):
        torch.manual_seed(config.seed)
        self.config, self.rng = config, np.random.default_rng(config.seed)
        rewards, self.reward_scale = scaled_rewards(data, config.reward_scaling)
        # one row per transition, so a batch is two index operations: [s | s' | r | done] and a
        self.rows = torch.as_tensor(np.column_stack([data["states"], data["next_states"], rewards, data["dones"]]),
                                    dtype=torch.float32)
        self.actions = torch.as_tensor(data["actions"], dtype=torch.int64)
        self.size = len(self.actions)
        shape = MLPShape(STATE_DIM, config.hidden, len(GOEMOTIONS_28))
        trained = shape.initial(3)
        self.table = torch.cat([trained, trained[Q:Q + 1]])  # [Q, V, PI, Q_target]
        self.nets = StackedMLP(3, shape, rows=self.table[:Q_TARGET])
        self.nets.flat.grad = torch.empty_like(self.nets.flat)  # rewritten in full by every step
        # views made once: slicing a table into layers each step would cost about 2% of a step
        self.all_layers, self.v_layers = shape.views(self.table), shape.views(self.table[V:V + 1])
        self.trained_layers, self.grad_layers = shape.views(self.nets.flat.detach()), shape.views(self.nets.flat.grad)
        self.optim = torch.optim.Adam([self.nets.flat], lr=config.lr, fused=True)

    def sample(self):
        idx = torch.as_tensor(self.rng.integers(0, self.size, self.config.batch))
        rows = self.rows.index_select(0, idx)  # several times faster than rows[idx] on CPU
        return rows[:, :STATE_DIM], self.actions.index_select(0, idx), rows[:, -2], rows[:, STATE_DIM:-2], rows[:, -1]

    @torch.no_grad()
    def gradient(self, s, a, r, s2, done) -> torch.Tensor:
        """d iql_loss / d parameters, written into (and returned as) nets.flat.grad [3, size]."""
        kept = Activations()
        out = forward(self.all_layers, s, kept)  # Q, V, PI and Q_target on s
        q_target = out[Q_TARGET].gather(1, a[:, None]).squeeze(1)
        td_target = r + self.config.gamma * (1 - done) * forward(self.v_layers, s2)[0, :, 0]
        grad_out = loss_gradient(out[:Q_TARGET], a, q_target, td_target, self.config)
        backward(self.trained_layers, self.grad_layers, kept, grad_out)
        return self.nets.flat.grad

    def step(self) -> None:
        clip_rows_(self.gradient(*self.sample()), self.config.max_grad_norm)
        self.optim.step()
        self.table[Q_TARGET].lerp_(self.table[Q], self.config.polyak)

    @torch.no_grad()
    def report(self, sample: int = 4000, top: int = 5) -> dict:
        """Mean policy entropy on dataset states, and the emotions the policy prefers with their mean
        advantage Q - V (in the data's reward units)."""
        idx = torch.as_tensor(np.random.default_rng(self.config.seed).integers(0, self.size, sample))
        out = forward(self.all_layers, self.rows.index_select(0, idx)[:, :STATE_DIM])
        prob = torch.softmax(out[PI], -1)
        entropy = float(-(prob * torch.log(prob)).sum(-1).mean())
        advantage = ((out[Q] - out[V, :, :1]) * self.reward_scale).mean(0)
        share = prob.mean(0)
        order = torch.argsort(share, descending=True)[:top].tolist()
        return {"entropy": round(entropy, 4), "uniform_entropy": round(float(np.log(len(GOEMOTIONS_28))), 4),
                "top": [{"emotion": GOEMOTIONS_28[k], "probability": round(float(share[k]), 4),
                         "mean_advantage": round(float(advantage[k]), 5)} for k in order]}

    def export(self, domain: str | None) -> SelectorPolicy:
        meta = {"format": FORMAT_VERSION, "state_dim": STATE_DIM, "labels": list(GOEMOTIONS_28), "domain": domain,
                "transitions": int(self.size), "reward_scale": self.reward_scale, "iql": asdict(self.config),
                "report": self.report()}
        return SelectorPolicy(self.nets.member_weights(PI), meta)
