"""Feed-forward score networks, trained many at a time (families H, I, J, docs/settings.md).

One network: input [x, e(t)] with the Gaussian-Fourier embedding
e(t) = [sin(2 pi W t), cos(2 pi W t)], W ~ N(0, I) fixed; three hidden ReLU layers
of width w; a linear output of dimension d. Two parameterizations of the score:

    nonsingular:  s = net(x, t),           loss |sigma s + eps|^2
    singular:     s = net(x, t) / sigma,   loss |net(x, t) + eps|^2

with x = alpha x_0 + sigma eps, plus the optional Tikhonov penalty c mean |s|^2.

``MLPGroup`` holds M networks of one shape as stacked tensors (M, fan_in, fan_out)
and evaluates them with batched matmuls, so dozens of small networks train as
one computation. Each network draws its initialization, times and noise from its
own generator, and Adam and the EMA act elementwise, so a network trained in a
group follows the same path as trained alone (up to float rounding). Every network of the
workflow has a seed of its own (``network_seed``), as each of the authors' networks has
its own initialization and training draws.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..closed_form.process import Process
from ..errors import SettingError

PARAMETERIZATIONS = ("nonsingular", "singular")
STUDIES = ("tikhonov", "early_stopping", "width")  # families H, I, J (docs/settings.md)


def network_seed(seed: int, study: str, index: int) -> int:
    """The seed of network ``index`` of ``study``: the first 32-bit word that numpy's
    SeedSequence draws from the entropy [seed, STUDIES.index(study), index].

    ``seed`` is the workflow's ``neural.seed``; ``index`` is the network's position in its
    study's list: the c of ``neural.tikhonov.c`` (H), the parameterization of
    ``neural.early_stopping.parameterizations`` (I), the width of ``neural.width.widths``
    (J). Distinct networks get unrelated seeds, hence their own initialization and (through
    ``memreg.mlp.training.model_generator``) their own training draws; the same settings
    give the same seeds."""
    if study not in STUDIES:
        raise SettingError("study", study, f"one of {list(STUDIES)}")
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be >= 0, got {seed} and {index}")
    entropy = [int(seed), STUDIES.index(study), int(index)]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


@dataclass(frozen=True)
class Architecture:
    """Shape of every network of a group."""

    dim: int = 2
    width: int = 256
    n_hidden: int = 3
    embedding_dim: int = 8

    def __post_init__(self) -> None:
        for key in ("dim", "width", "n_hidden"):
            if getattr(self, key) < 1:
                raise SettingError(key, getattr(self, key), "an integer >= 1")
        if self.embedding_dim < 2 or self.embedding_dim % 2:
            raise SettingError("embedding_dim", self.embedding_dim, "an even integer >= 2")

    @property
    def layer_sizes(self) -> list[tuple[int, int]]:
        sizes = [self.dim + self.embedding_dim] + [self.width] * self.n_hidden + [self.dim]
        return list(zip(sizes[:-1], sizes[1:]))

    @property
    def n_params(self) -> int:
        """Trainable parameters of one network (weights and biases)."""
        return sum(i * o + o for i, o in self.layer_sizes)


@dataclass(frozen=True)
class ModelSpec:
    """What distinguishes one network of a group: seed, parameterization, Tikhonov c."""

    seed: int
    parameterization: str = "nonsingular"
    c: float = 0.0

    def __post_init__(self) -> None:
        if self.parameterization not in PARAMETERIZATIONS:
            raise SettingError("parameterization", self.parameterization,
                               f"one of {list(PARAMETERIZATIONS)}")  # fmt: skip
        if not self.c >= 0:
            raise SettingError("c", self.c, "a number >= 0 (the Tikhonov constant)")


class MLPGroup(nn.Module):
    """M score networks of one architecture; forward maps (M, B, d), (M, B) -> (M, B, d)."""

    def __init__(self, arch: Architecture, specs: list[ModelSpec]) -> None:
        super().__init__()
        if not specs:
            raise ValueError("a group needs at least one model")
        self.arch, self.specs = arch, list(specs)
        weights, biases, freqs = [], [], []
        for spec in specs:
            gen = torch.Generator().manual_seed(spec.seed)
            freqs.append(torch.randn(arch.embedding_dim // 2, generator=gen))
            w_m, b_m = [], []
            for fan_in, fan_out in arch.layer_sizes:  # nn.Linear's default: U(-1/sqrt(fan_in), .)
                bound = 1.0 / math.sqrt(fan_in)
                w_m.append((torch.rand(fan_in, fan_out, generator=gen) * 2 - 1) * bound)
                b_m.append((torch.rand(1, fan_out, generator=gen) * 2 - 1) * bound)
            weights.append(w_m)
            biases.append(b_m)
        n_layers = len(arch.layer_sizes)
        self.weights = nn.ParameterList(
            [nn.Parameter(torch.stack([w[k] for w in weights])) for k in range(n_layers)]
        )
        self.biases = nn.ParameterList(
            [nn.Parameter(torch.stack([b[k] for b in biases])) for k in range(n_layers)]
        )
        self.register_buffer("freqs", torch.stack(freqs))  # (M, embedding_dim / 2)
        self.register_buffer(
            "singular", torch.tensor([s.parameterization == "singular" for s in specs])
        )
        self.register_buffer("c", torch.tensor([s.c for s in specs]))

    @property
    def n_models(self) -> int:
        return len(self.specs)

    def embed(self, t: torch.Tensor) -> torch.Tensor:
        """e(t) = [sin(2 pi W t), cos(2 pi W t)]: (M, B) -> (M, B, embedding_dim)."""
        angle = 2 * math.pi * t[..., None] * self.freqs[:, None, :]
        return torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        h = torch.cat([x, self.embed(t)], dim=-1)
        last = len(self.weights) - 1
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if k < last:
                h = torch.relu(h)
        return h

    def score(self, x: torch.Tensor, t: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """s = net (nonsingular) or net / sigma (singular); sigma shaped (M, B)."""
        out = self(x, t)
        return torch.where(self.singular[:, None, None], out / sigma[..., None], out)

    def architecture_record(self) -> dict[str, Any]:
        return {"architecture": asdict(self.arch), "specs": [asdict(s) for s in self.specs]}


def dsm_loss(
    group: MLPGroup, process: Process, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor
) -> torch.Tensor:
    """Per-model denoising score matching loss, shape (M,):

    mean |sigma s + eps|^2 (nonsingular) or mean |net + eps|^2 (singular),
    plus c mean |s|^2; x = alpha x0 + sigma eps with t (M, B), eps (M, B, d).
    """
    alpha, sigma = process.alpha(t), process.sigma(t)
    xt = alpha[..., None] * x0 + sigma[..., None] * eps
    out = group(xt, t)
    sing = group.singular[:, None, None]
    s = torch.where(sing, out / sigma[..., None], out)
    residual = torch.where(sing, out, sigma[..., None] * out) + eps
    return (residual**2).mean(dim=(1, 2)) + group.c * (s**2).mean(dim=(1, 2))


def dsm_loss_and_grads(
    group: MLPGroup,
    process: Process,
    x0: torch.Tensor,
    t: torch.Tensor,
    eps: torch.Tensor,
    grads: list[torch.Tensor],
) -> torch.Tensor:
    """``dsm_loss`` and its gradient, by a hand-written backward pass into ``grads``.

    ``grads`` holds one preallocated tensor per parameter ([weights..., biases...], the
    shapes of the parameters); they are overwritten, so no large tensor is allocated per
    step (autograd's fresh (M, w, w) gradients cost page faults on every step). With
    h_0 = [x, e(t)], z_k = h_{k-1} W_k + b_k, h_k = relu(z_k) (k < L), out = z_L and
    r the residual of ``dsm_loss`` (B points, d dimensions per model):

        dL/dout  = (2 / (B d)) (sigma r + c out)           nonsingular (s = out)
                 = (2 / (B d)) (r + c out / sigma^2)       singular (s = out / sigma)
        dL/dW_k  = h_{k-1}^T dz_k,   dL/db_k = sum_B dz_k,
        dz_{k-1} = (dz_k W_k^T) * 1[h_{k-1} > 0].

    Equal to autograd on ``dsm_loss(...).sum()`` up to float rounding (a test checks it).
    """
    alpha, sigma = process.alpha(t)[..., None], process.sigma(t)[..., None]
    h = torch.cat([alpha * x0 + sigma * eps, group.embed(t)], dim=-1)
    layers = list(zip(group.weights, group.biases))
    hs = [h]
    with torch.no_grad():
        for k, (w, b) in enumerate(layers):
            h = torch.baddbmm(b, h, w)
            if k < len(layers) - 1:
                h = h.relu_()
            hs.append(h)
        out = hs.pop()
        sing = group.singular[:, None, None]
        residual = torch.where(sing, out, sigma * out) + eps
        s = torch.where(sing, out / sigma, out)
        c = group.c[:, None, None]
        n = out.shape[1] * out.shape[2]
        loss = (residual**2).mean(dim=(1, 2)) + group.c * (s**2).mean(dim=(1, 2))
        dz = (2.0 / n) * torch.where(
            sing, residual + c * out / sigma**2, sigma * residual + c * out
        )
        n_layers = len(layers)
        for k in range(n_layers - 1, -1, -1):
            w, h_in = layers[k][0], hs[k]
            torch.bmm(h_in.transpose(1, 2), dz, out=grads[k])
            torch.sum(dz, dim=1, keepdim=True, out=grads[n_layers + k])
            if k > 0:  # relu's backward: keep the entries where h_{k-1} > 0
                dz = torch.ops.aten.threshold_backward(torch.bmm(dz, w.transpose(1, 2)), h_in, 0)
    return loss
