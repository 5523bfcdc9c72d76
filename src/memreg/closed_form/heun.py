"""Heun's method on the probability-flow ODE in t: dx/dt = f(t) x - (1/2) g2(t) s(x, t).

A general explicit cross-check of the exponential samplers, and the last stretch to t = 0 of
a score defined there (a learned nonsingular one).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .process import Process
from .sampler_score import SamplerScore, Score


def ode_velocity(score: Score, proc: Process, x: torch.Tensor, t: float) -> torch.Tensor:
    """dx/dt = f(t) x - (1/2) g2(t) s(x, t)."""
    return float(proc.f(t)) * x - 0.5 * float(proc.g2(t)) * score(x, t)


def velocity_rows(score: Score, proc: Process, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """dx/dt = f(t) x - (1/2) g2(t) s(x, t) with one time per row (t of shape (B,))."""
    return proc.f(t)[:, None] * x - 0.5 * proc.g2(t)[:, None] * score(x, t)


def heun_step(score: SamplerScore):
    """The step x(t0) -> x(t1) of Heun's method on a grid: x' = x + h v(x, t0),
    x(t1) = x + (h / 2) (v(x, t0) + v(x', t1)), h = t1 - t0."""
    proc = score.process

    def step(x, t0, t1, k):
        h = t1 - t0
        v0 = ode_velocity(score, proc, x, t0)
        x_pred = x + h * v0
        return x + 0.5 * h * (v0 + ode_velocity(score, proc, x_pred, t1))

    return step


def heun_in_t(
    score: Score,
    x: Any,
    t_start: float,
    t_end: Any,
    n_steps: int,
    process: str | Process | None = None,
) -> np.ndarray:
    """Heun's method (the explicit trapezoidal rule) on the probability-flow ODE in t,
    each row from t_start to its own end t_end[row] in [0, t_start], on n_steps equal steps
    h = (t_end - t_start) / n_steps (negative: backwards in time), v = ``velocity_rows``:

        x' = x_k + h v(x_k, t_k),   x_{k+1} = x_k + (h / 2) (v(x_k, t_k) + v(x', t_{k+1})).

    Second order in h. The score is called with one time per row and may be called at t = 0
    (for scores defined there, such as a learned nonsingular one); a row whose end is t_start
    stays where it is, its score called at t_start only. x: (B, d); t_end: a float or (B,).
    Returns the (B, d) ends as float64."""
    view = SamplerScore.of(score, process)
    proc = view.process
    x = torch.as_tensor(x, dtype=torch.float64).clone()
    end = torch.as_tensor(t_end, dtype=torch.float64).expand(x.shape[0])
    if not bool(((end >= 0) & (end <= t_start)).all()):
        raise ValueError(f"every end must lie in [0, t_start = {t_start}]")
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    h = (end - t_start) / n_steps
    with view.mode(x):
        for k in range(n_steps):
            t0 = t_start + k * h
            t1 = end if k == n_steps - 1 else t_start + (k + 1) * h
            v0 = velocity_rows(score, proc, x, t0)
            v1 = velocity_rows(score, proc, x + h[:, None] * v0, t1)
            x = x + 0.5 * h[:, None] * (v0 + v1)
    return x.cpu().numpy()
