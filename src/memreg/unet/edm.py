"""EDM (Karras et al. 2022): preconditioning, loss and the deterministic Heun sampler.

The noisy image is x = y + sigma n with y a training image and n ~ N(0, I); the
network F_theta is wrapped into a denoiser

    D(x, sigma) = c_skip x + c_out F_theta(c_in x, c_noise),
    c_skip = sd^2 / (sigma^2 + sd^2),  c_out = sigma sd / sqrt(sigma^2 + sd^2),
    c_in = 1 / sqrt(sigma^2 + sd^2),   c_noise = ln(sigma) / 4,   sd = sigma_data = 0.5,

and trained with ln sigma ~ N(P_mean, P_std^2) on the loss
lambda(sigma) |D(y + sigma n, sigma) - y|^2, lambda = (sigma^2 + sd^2) / (sigma sd)^2.

Sampling integrates the probability-flow ODE dx/dsigma = (x - D(x, sigma)) / sigma
from sigma_max to 0 with Heun's method on the grid
sigma_i = (sigma_max^(1/rho) + i / (K - 1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho,
i < K, and sigma_K = 0; the last step (to 0) is a plain Euler step. In the
notation of ``memreg.closed_form.process`` this is the ``ve_talk`` process (alpha = 1,
sigma = t), so the empirical denoiser of the foundation is the perfectly
memorizing D.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..closed_form.process import make_process
from ..closed_form.score import EmpiricalScore
from ..errors import SettingError

SIGMA_DATA = 0.5
# The sampling schedule of EDM (Karras et al. 2022, Table 1), which the authors' script
# uses; config.yaml's unet.evaluation states them too (tests/test_defaults.py holds them equal).
SIGMA_MIN, SIGMA_MAX, RHO = 0.002, 80.0, 7.0

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


UNIT_RANGE = (0.0, 1.0)  # the authors' pixel values: data[..., square] = 1.0, zero elsewhere


def to_model_range(
    images01: np.ndarray | torch.Tensor, value_range: tuple[float, float] = UNIT_RANGE
) -> torch.Tensor:
    """Pixel values v in [0, 1] -> the values y = lo + (hi - lo) v the network sees, with
    (lo, hi) = ``value_range``: the authors' (0, 1) leaves them as they are; (-1, 1) is EDM's
    image range."""
    lo, hi = value_range
    return lo + (hi - lo) * torch.as_tensor(images01, dtype=torch.float32)


def to_unit_range(y: torch.Tensor, value_range: tuple[float, float] = UNIT_RANGE) -> torch.Tensor:
    """The inverse of :func:`to_model_range`: v = (y - lo) / (hi - lo)."""
    lo, hi = value_range
    return (y - lo) / (hi - lo)


@dataclass(frozen=True)
class Preconditioning:
    """EDM's coefficients c_skip, c_out, c_in, c_noise and the loss weight lambda."""

    sigma_data: float = SIGMA_DATA

    def c_skip(self, sigma: torch.Tensor) -> torch.Tensor:
        return self.sigma_data**2 / (sigma**2 + self.sigma_data**2)

    def c_out(self, sigma: torch.Tensor) -> torch.Tensor:
        return sigma * self.sigma_data / (sigma**2 + self.sigma_data**2).sqrt()

    def c_in(self, sigma: torch.Tensor) -> torch.Tensor:
        return 1 / (sigma**2 + self.sigma_data**2).sqrt()

    def c_noise(self, sigma: torch.Tensor) -> torch.Tensor:
        return sigma.log() / 4

    def loss_weight(self, sigma: torch.Tensor) -> torch.Tensor:
        return (sigma**2 + self.sigma_data**2) / (sigma * self.sigma_data) ** 2


class EDMDenoiser(nn.Module):
    """D(x, sigma) = c_skip x + c_out F(c_in x, c_noise) around a network F(x, c_noise)."""

    def __init__(self, net: nn.Module, sigma_data: float = SIGMA_DATA) -> None:
        super().__init__()
        self.net, self.pre = net, Preconditioning(sigma_data)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        sigma = torch.as_tensor(sigma, dtype=torch.float32, device=x.device).reshape(-1)
        sigma = sigma.expand(x.shape[0]) if sigma.numel() == 1 else sigma
        s = sigma[:, None, None, None]
        pre = self.pre
        out = self.net((pre.c_in(s) * x).to(x.dtype), pre.c_noise(sigma))
        return pre.c_skip(s) * x + pre.c_out(s) * out.float()


def draw_noise_levels(
    n: int, generator: torch.Generator, p_mean: float = -1.2, p_std: float = 1.2
) -> torch.Tensor:
    """n training noise levels, ln sigma ~ N(p_mean, p_std^2)."""
    return (p_mean + p_std * torch.randn(n, generator=generator)).exp()


def edm_loss(
    denoiser: EDMDenoiser, y: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor
) -> torch.Tensor:
    """Mean over the batch and pixels of lambda(sigma) |D(y + sigma n, sigma) - y|^2."""
    s = sigma[:, None, None, None]
    d = denoiser(y + s * noise, sigma)
    return (denoiser.pre.loss_weight(s) * (d - y) ** 2).mean()


def check_schedule(n_steps: int, sigma_min: float, sigma_max: float) -> None:
    """Refuse (:class:`memreg.errors.SettingError`) a Heun schedule with fewer than two steps
    or without 0 < sigma_min < sigma_max."""
    if n_steps < 2:
        raise SettingError("n_steps", n_steps, "an integer >= 2 (Heun steps)")
    if not 0 < sigma_min < sigma_max:
        raise SettingError("sigma_min", sigma_min, f"a number > 0 below sigma_max = {sigma_max}")


def sigma_steps(
    n_steps: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX, rho: float = RHO
) -> torch.Tensor:
    """The K = n_steps noise levels of EDM's schedule (float64), followed by sigma_K = 0."""
    check_schedule(n_steps, sigma_min, sigma_max)
    i = torch.arange(n_steps, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (hi + i / (n_steps - 1) * (lo - hi)) ** rho
    return torch.cat([sigmas, torch.zeros(1, dtype=torch.float64)])


def fixed_noise(n: int, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """n standard normal images of ``shape``; noise k depends only on (seed, k), so the
    first m of n draws equal the m draws of a smaller request."""
    return torch.stack(
        [
            torch.randn(shape, generator=torch.Generator().manual_seed(seed * 1_000_003 + k))
            for k in range(n)
        ]
    )


@torch.no_grad()
def heun_sample(
    denoiser: Denoiser, noise: torch.Tensor, sigmas: torch.Tensor, batch_size: int = 256
) -> torch.Tensor:
    """EDM's deterministic sampler: x_0 = sigma_0 n, then for i = 0..K-1

        d  = (x - D(x, sigma_i)) / sigma_i,         x' = x + (sigma_{i+1} - sigma_i) d,
        d' = (x' - D(x', sigma_{i+1})) / sigma_{i+1}, x <- x + (sigma_{i+1} - sigma_i) (d + d') / 2,

    the correction skipped on the last step (sigma_K = 0). Runs in float64 when the
    noise is float64, else float32; ``batch_size`` rows at a time."""
    out = []
    for start in range(0, noise.shape[0], batch_size):
        x = noise[start : start + batch_size] * sigmas[0].to(noise.dtype)
        for k in range(len(sigmas) - 1):
            s, s_next = float(sigmas[k]), float(sigmas[k + 1])
            d = (x - denoiser(x, _full(x, s))) / s
            x_next = x + (s_next - s) * d
            if s_next > 0:
                d_next = (x_next - denoiser(x_next, _full(x, s_next))) / s_next
                x_next = x + (s_next - s) * 0.5 * (d + d_next)
            x = x_next
        out.append(x)
    return torch.cat(out)


def _full(x: torch.Tensor, value: float) -> torch.Tensor:
    return torch.full((x.shape[0],), value, dtype=x.dtype, device=x.device)


def empirical_denoiser(train: torch.Tensor, **kwargs) -> Denoiser:
    """The perfectly memorizing denoiser of images ``train`` (N, C, H, W):
    D(x, sigma) = sum_n softmax_n(-|x - y_n|^2 / (2 sigma^2)) y_n, in float64 by
    log-sum-exp (``memreg.closed_form.score.EmpiricalScore`` on flattened images, process
    ``ve_talk``, whose sigma(t) = t)."""
    shape = train.shape[1:]
    # sigma(t) = t for every t > 0: EDM's sigmas (up to sigma_max = 80) are all valid times
    process = make_process("ve_talk", T=math.inf)
    score = EmpiricalScore(train.reshape(train.shape[0], -1), process=process, **kwargs)

    def denoise(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(x.shape[0], -1)
        out = score.posterior_mean(flat, sigma.to(score.train.dtype))
        return out.to(x.dtype).reshape(x.shape[0], *shape)

    return denoise


def memorized(samples01: torch.Tensor, train01: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, both with pixel values v in [0, 1] (:func:`to_unit_range`): whether its
    binarization (v > 1/2) equals a training image exactly, and the authors' distance to the
    training set, the smallest summed squared pixel difference

        d(x) = min_n sum_p (x_p - y_{n,p})^2,

    computed by direct differences in float64."""
    s = samples01.detach().double().cpu().reshape(samples01.shape[0], -1)
    t = train01.detach().double().cpu().reshape(train01.shape[0], -1)
    exact = ((s[:, None, :] > 0.5) == (t[None, :, :] > 0.5)).all(-1).any(-1)
    sq = ((s[:, None, :] - t[None, :, :]) ** 2).sum(-1).min(dim=1).values
    return exact.numpy(), sq.numpy()
