"""The exponential integrator on a fixed grid, and the integral Lambda it steps by.

With y = x / alpha, sigma_hat = sigma / alpha, s = -log sigma_hat, and a score of the form
s = (alpha D - x) / (sigma^2 + c), the probability-flow ODE reads

    dy/ds = -lambda(s) (y - D),      lambda = sigma_hat^2 / (sigma_hat^2 + c / alpha^2),

(lambda = 1 without regularization). Freezing D over a step of Lambda = int lambda ds gives
the first-order update  y <- D + (y - D) e^{-Lambda}  (docs/settings.md, Notation); the
second-order update (exponential Heun, ETD2RK) adds (D_1 - D_0)(1 - (1 - e^{-Lambda}) / Lambda)
with D_1 the denoiser at the predicted end point. For a score without ``c`` (a learned one)
c = 0 and D is Tweedie's D = (x + sigma^2 s) / alpha.
"""

from __future__ import annotations

import numpy as np
import torch

from .process import Process
from .sampler_score import SamplerScore

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(8)


def lambda_integral(process: Process, c: float, s0: float, s1: float) -> float:
    """Lambda = int_{s0}^{s1} sigma_hat^2 / (sigma_hat^2 + c / alpha^2) ds, by Gauss-Legendre."""
    if c == 0.0:
        return s1 - s0
    s = 0.5 * (s0 + s1) + 0.5 * (s1 - s0) * _GL_NODES
    sh2 = np.exp(-2.0 * s)
    lam = sh2 / (sh2 + c / process.alpha(process.t_of_s(s)) ** 2)
    return float(0.5 * (s1 - s0) * np.dot(_GL_WEIGHTS, lam))


def lambda_rows(
    process: Process, c: float, s0: torch.Tensor, s1: torch.Tensor, panels: int = 1
) -> torch.Tensor:
    """Lambda = int_{s0}^{s1} sigma_hat^2 / (sigma_hat^2 + c / alpha^2) ds per row.

    s1 - s0 for c = 0; for alpha = 1 in closed form,
    Lambda = (1/2) log((sigma_hat_0^2 + c) / (sigma_hat_1^2 + c))
           = (1/2) log1p(-e^{-2 s0} expm1(-2 (s1 - s0)) / (e^{-2 s1} + c));
    otherwise by 8-point Gauss-Legendre on ``panels`` equal panels (one for a step; many
    for a long interval, over which lambda falls from 1 to 0)."""
    h = s1 - s0
    if c == 0.0:
        return h
    if process.unit_alpha:
        return 0.5 * torch.log1p(
            -torch.exp(-2.0 * s0) * torch.expm1(-2.0 * h) / (torch.exp(-2.0 * s1) + c)
        )
    like = dict(dtype=s0.dtype, device=s0.device)
    nodes = torch.as_tensor(_GL_NODES, **like)
    weights = torch.as_tensor(_GL_WEIGHTS, **like)
    width = h / panels
    mids = s0[:, None] + width[:, None] * (torch.arange(panels, **like) + 0.5)  # (B, panels)
    s = mids[..., None] + 0.5 * width[:, None, None] * nodes  # (B, panels, 8)
    sh2 = torch.exp(-2.0 * s)
    lam = sh2 / (sh2 + c / process.alpha(process.t_of_s(s)) ** 2)
    return 0.5 * width * (lam @ weights).sum(dim=1)


def exponential_step(score: SamplerScore, t: np.ndarray, order: int):
    """The step x(t_k) -> x(t_{k+1}) of the grid t: first order (``order`` 1) or exponential
    Heun (2), as in the module docstring."""
    proc, c = score.process, score.c
    s = proc.s_of_t(t)
    alpha = proc.alpha(t)

    def step(x, t0, t1, k):
        y = x / float(alpha[k])
        lam = lambda_integral(proc, c, float(s[k]), float(s[k + 1]))
        decay = float(np.exp(-lam))
        d0 = score.denoise(x, t0)
        y1 = d0 + (y - d0) * decay
        if order == 2:
            d1 = score.denoise(float(alpha[k + 1]) * y1, t1)
            y1 = y1 + (d1 - d0) * float(1.0 + np.expm1(-lam) / lam)
        return float(alpha[k + 1]) * y1

    return step
