"""Several same-shaped MLPs trained side by side as one module: one batched matmul per layer.

IQL trains three networks of one shape (Q, V, policy) on the same states. On a CPU the cost of
three small networks is dominated by per-operation overhead, so stacking them along a leading
"member" axis runs each layer for all three at once (a third of the operations). Needs torch.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional


def _uniform(shape: tuple[int, ...], fan_in: int) -> nn.Parameter:
    """torch.nn.Linear's default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in)
    return nn.Parameter(torch.empty(shape).uniform_(-bound, bound))


class StackedMLP(nn.Module):
    """Linear -> ReLU -> LayerNorm, twice, then Linear, for each of `members` independent networks.

    The LayerNorms have no gain or bias: the Linear layer after each one absorbs any per-feature
    scale and shift, so those would add parameters and time but no expressiveness."""

    def __init__(self, members: int, n_in: int, hidden: int, n_out: int):
        super().__init__()
        self.shape = (n_in, hidden, n_out)
        sizes = [(n_in, hidden), (hidden, hidden), (hidden, n_out)]
        self.weights = nn.ParameterList(_uniform((members, i, o), i) for i, o in sizes)
        self.biases = nn.ParameterList(_uniform((members, 1, o), i) for i, o in sizes)

    def forward(self, x: torch.Tensor, member: int | None = None) -> torch.Tensor:
        """x: (batch, n_in), shared by the members -> (members, batch, n_out); only `member` if given."""
        pick = slice(None) if member is None else slice(member, member + 1)
        weights, biases = [w[pick] for w in self.weights], [b[pick] for b in self.biases]
        h = x.expand(len(weights[0]), -1, -1)
        for w, b in zip(weights[:-1], biases[:-1]):
            h = functional.layer_norm(torch.relu_(torch.baddbmm(b, h, w)), (self.shape[1],))
        return torch.baddbmm(biases[-1], h, weights[-1])

    def copy_member(self, member: int) -> StackedMLP:
        """A one-member copy without gradients (a target network)."""
        copy = StackedMLP(1, *self.shape)
        with torch.no_grad():
            for mine, theirs in zip(self.parameters(), copy.parameters()):
                theirs.copy_(mine[member: member + 1])
        return copy.requires_grad_(False)

    def polyak_update(self, target: StackedMLP, member: int, rate: float) -> None:
        """target <- target + rate * (member - target), in place."""
        with torch.no_grad():
            online = [p.detach()[member: member + 1] for p in self.parameters()]
            torch._foreach_lerp_(list(target.parameters()), online, rate)

    def clip_grad_norm_per_member(self, max_norm: float) -> None:
        """Scale each member's gradient to a total norm of at most max_norm, as clipping each network would."""
        grads = [p.grad for p in self.parameters()]
        with torch.no_grad():
            squares = sum(g.pow(2).sum(dim=tuple(range(1, g.dim()))) for g in grads)
            scale = (max_norm / (squares.sqrt() + 1e-6)).clamp(max=1.0)
            for g in grads:
                g.mul_(scale.view(-1, *([1] * (g.dim() - 1))))

    def member_weights(self, member: int) -> dict[str, np.ndarray]:
        """One member in torch.nn.Linear's layout (weight: out x in), the exported policy's format."""
        out = {}
        for name, w, b in zip(("l0", "l1", "out"), self.weights, self.biases):
            out[f"{name}.weight"] = w[member].detach().T.numpy().astype(np.float32)
            out[f"{name}.bias"] = b[member, 0].detach().numpy().astype(np.float32)
        return out
