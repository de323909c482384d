"""Several same-shaped MLPs trained side by side: one flat parameter, one batched matmul per layer,
and a written-out backward pass.

IQL trains networks of one shape (Q, V, policy, and Q's Polyak target) on the same states.
Stacking them along a leading "member" axis runs each layer for all of them at once, and keeping
each member's parameters in one row of a flat [members, size] tensor makes Adam, per-network
gradient clipping and Polyak averaging one operation each. The backward pass is the textbook one
(Linear, ReLU, and aten's own LayerNorm backward) on activations kept from the forward pass.
Autograd gives the same gradients (tests/test_emodistill.py checks) but its graph bookkeeping
cost about 10% of a step on a 2-core CPU. Needs torch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

LAYER_NORM_EPS = 1e-5  # torch's default, and the exported numpy policy's


@dataclass(frozen=True)
class MLPShape:
    """Linear -> ReLU -> LayerNorm, twice, then Linear. The LayerNorms have no gain or bias: the
    Linear layer after each one absorbs any per-feature scale and shift."""

    n_in: int
    hidden: int
    n_out: int

    @property
    def layers(self) -> tuple[tuple[int, int], ...]:
        return (self.n_in, self.hidden), (self.hidden, self.hidden), (self.hidden, self.n_out)

    @property
    def size(self) -> int:
        """Parameters per member."""
        return sum(n_in * n_out + n_out for n_in, n_out in self.layers)

    def views(self, flat: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each layer's (weight [members, in, out], bias [members, 1, out]) as views into flat [members, size]."""
        members, offset, views = flat.shape[0], 0, []
        for n_in, n_out in self.layers:
            weight = flat[:, offset: offset + n_in * n_out].view(members, n_in, n_out)
            offset += n_in * n_out
            views.append((weight, flat[:, offset: offset + n_out].view(members, 1, n_out)))
            offset += n_out
        return views

    def initial(self, members: int) -> torch.Tensor:
        """torch.nn.Linear's default initialisation, layer by layer: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        flat = torch.empty(members, self.size)
        for (weight, bias), (n_in, _) in zip(self.views(flat), self.layers):
            bound = 1.0 / math.sqrt(n_in)
            weight.uniform_(-bound, bound)
            bias.uniform_(-bound, bound)
        return flat


@dataclass
class Activations:
    """What the backward pass needs from a forward pass: each layer's input, and each hidden
    layer's ReLU output with its LayerNorm mean and reciprocal standard deviation."""

    inputs: list[torch.Tensor] = field(default_factory=list)
    hidden: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = field(default_factory=list)


Layers = list[tuple[torch.Tensor, torch.Tensor]]  # (weight [members, in, out], bias [members, 1, out]) per layer


def forward(layers: Layers, x: torch.Tensor, keep: Activations | None = None) -> torch.Tensor:
    """x: [batch, n_in] shared by all members, or [members, batch, n_in] -> [members, batch, n_out].

    `layers` are MLPShape.views of a flat table (made once by a caller that runs many steps).
    Differentiable by autograd as well; pass `keep` to record what `backward` needs."""
    h = x.expand(layers[0][0].shape[0], -1, -1) if x.dim() == 2 else x
    for weight, bias in layers[:-1]:
        relu = torch.relu_(torch.baddbmm(bias, h, weight))
        normed, mean, rstd = torch.native_layer_norm(relu, relu.shape[-1:], None, None, LAYER_NORM_EPS)
        if keep is not None:
            keep.inputs.append(h)
            keep.hidden.append((relu, mean, rstd))
        h = normed
    if keep is not None:
        keep.inputs.append(h)
    weight, bias = layers[-1]
    return torch.baddbmm(bias, h, weight)


def backward(layers: Layers, grads: Layers, kept: Activations, grad_out: torch.Tensor) -> None:
    """Write the gradient of sum(grad_out * forward(layers, x)) with respect to layers into grads
    (views of a gradient table shaped like the parameters).

    `kept` may hold more members than layers (say a target network run in the same forward pass):
    the first ones are used."""
    members = layers[0][0].shape[0]
    delta = grad_out  # d loss / d (this layer's pre-activation output)
    for depth in reversed(range(len(layers))):
        grad_weight, grad_bias = grads[depth]
        torch.bmm(kept.inputs[depth][:members].transpose(1, 2), delta, out=grad_weight)
        torch.sum(delta, dim=1, keepdim=True, out=grad_bias)
        if depth == 0:
            return
        relu, mean, rstd = (t[:members] for t in kept.hidden[depth - 1])
        grad_normed = torch.bmm(delta, layers[depth][0].transpose(1, 2))
        grad_relu = torch.ops.aten.native_layer_norm_backward(
            grad_normed, relu, relu.shape[-1:], mean, rstd, None, None, (True, False, False))[0]
        delta = torch.ops.aten.threshold_backward(grad_relu, relu, 0.0)


def clip_rows_(grad: torch.Tensor, max_norm: float) -> torch.Tensor:
    """Scale each member's gradient (a row) to a norm of at most max_norm, as clip_grad_norm_ per network would."""
    norms = torch.linalg.vector_norm(grad, dim=1, keepdim=True)
    return grad.mul_((max_norm / (norms + 1e-6)).clamp_(max=1.0))


class StackedMLP(nn.Module):
    """`members` independent networks of one MLPShape, their parameters the rows of one flat tensor.

    `rows`, if given, are trained in place (say a view of a larger table that also holds target
    networks); by default fresh rows are initialised like torch.nn.Linear."""

    def __init__(self, members: int, shape: MLPShape, rows: torch.Tensor | None = None):
        super().__init__()
        if rows is not None and tuple(rows.shape) != (members, shape.size):
            raise ValueError(f"rows must be {members} x {shape.size}, got {tuple(rows.shape)}")
        self.shape = shape
        self.flat = nn.Parameter(shape.initial(members) if rows is None else rows)

    def forward(self, x: torch.Tensor, member: int | None = None) -> torch.Tensor:
        """x: [batch, n_in] -> [members, batch, n_out]; only `member` (as [1, batch, n_out]) if given."""
        flat = self.flat if member is None else self.flat[member: member + 1]
        return forward(self.shape.views(flat), x)

    def member_weights(self, member: int) -> dict[str, np.ndarray]:
        """One member in torch.nn.Linear's layout (weight: out x in), the exported policy's format."""
        out = {}
        for name, (weight, bias) in zip(("l0", "l1", "out"), self.shape.views(self.flat.detach())):
            out[f"{name}.weight"] = weight[member].T.numpy().astype(np.float32)
            out[f"{name}.bias"] = bias[member, 0].numpy().astype(np.float32)
        return out
