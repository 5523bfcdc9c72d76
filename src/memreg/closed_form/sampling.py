"""Reverse-time samplers for any score (x, t) -> s (memreg.closed_form.sampler_score).

Probability-flow ODE of dx = f x dt + sqrt(g2) dw, integrated from t = T down to t_min:

    dx/dt = f(t) x - (1/2) g2(t) s(x, t).

``sample_ode`` picks the method, one module each:

- default: Dormand-Prince 5(4) in u = Lambda(s) with a step per sample
  (memreg.closed_form.adaptive), and for the empirical score the lock that ends a sample
  once its weights have settled on one training point (memreg.closed_form.lock);
- ``n_steps`` or ``t_grid``: a fixed grid, every sample on the same times, by the
  exponential integrator (exponential Heun or its first-order step in s,
  memreg.closed_form.exponential) or Heun's method in t (memreg.closed_form.heun).

``sample_sde``: the reverse SDE  dx = [f x - g2 s] dt + sqrt(g2) dw  by Euler-Maruyama.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .adaptive import adaptive_rk
from .exponential import exponential_step, lambda_integral, lambda_rows
from .heun import heun_in_t, heun_step, ode_velocity, velocity_rows
from .process import Process
from .sampler_score import SamplerScore, Score

__all__ = [
    "Trajectory",
    "check_count",
    "check_grid",
    "heun_in_t",
    "initial_noise",
    "lambda_integral",
    "lambda_rows",
    "ode_velocity",
    "sample_ode",
    "sample_sde",
    "time_grid",
    "velocity_rows",
    "weights_along",
]

DEFAULT_STEPS = 400  # fixed grids: steps when only spacing (or method "heun") is asked for
DEFAULT_RTOL = 3e-6  # adaptive default: tolerances on y = x / alpha per coordinate
DEFAULT_ATOL = 3e-6
# Where the samplers stop by default: the authors' end time (their notebooks' model.eps).
# config.yaml restates it and DEFAULT_STEPS (dynamics, regularization; tests/test_defaults.py).
T_MIN = 1e-6


@dataclass
class Trajectory:
    """Sampler output with the path: t of shape (K+1,), x of shape (K+1, n, d)."""

    t: np.ndarray
    x: np.ndarray

    @property
    def final(self) -> np.ndarray:
        return self.x[-1]


def time_grid(
    process: Process, n_steps: int, t_min: float, t_max: float | None = None, spacing: str = "s"
) -> np.ndarray:
    """Decreasing times t_0 = t_max > ... > t_K = t_min.

    spacing: "s" uniform in s = -log sigma_hat (geometric in sigma_hat),
    "t" uniform in t, "edm" the rho = 7 schedule of Karras et al. in sigma_hat.
    """
    t_max = process.T if t_max is None else t_max
    if not 0 < t_min < t_max:
        raise ValueError(f"need 0 < t_min < t_max, got t_min={t_min}, t_max={t_max}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    u = np.linspace(0.0, 1.0, n_steps + 1)
    if spacing == "t":
        t = t_max + (t_min - t_max) * u
    elif spacing == "s":
        s0, s1 = process.s_of_t(t_max), process.s_of_t(t_min)
        t = process.t_of_s(s0 + (s1 - s0) * u)
    elif spacing == "edm":
        rho = 7.0
        a, b = process.sigma_hat(t_max) ** (1 / rho), process.sigma_hat(t_min) ** (1 / rho)
        t = process.t_of_sigma_hat((a + (b - a) * u) ** rho)
    else:
        raise ValueError(f"unknown spacing {spacing!r}; allowed: 's', 't', 'edm'")
    t = np.asarray(t, dtype=np.float64)
    t[0], t[-1] = t_max, t_min
    return t


def check_grid(t_grid: Any) -> np.ndarray:
    """A user's time grid as float64, refused unless positive and strictly decreasing."""
    t = np.asarray(t_grid, dtype=np.float64)
    if t.ndim != 1 or len(t) < 2 or not np.all(t > 0) or not np.all(np.diff(t) < 0):
        raise ValueError("t_grid must be a 1-D array of >= 2 positive, strictly decreasing times")
    return t


def initial_noise(n: int, dim: int, seed: int, process: Process, **kw: Any) -> torch.Tensor:
    """x(T) ~ N(0, sigma(T)^2 I), drawn on the CPU from ``seed`` (device independent)."""
    gen = torch.Generator().manual_seed(int(seed))
    z = torch.randn(n, dim, generator=gen, dtype=torch.float64)
    return (float(process.sigma(process.T)) * z).to(**kw)


def check_count(n: Any) -> int:
    """n (a number of samples) as an int, refused unless a positive integer."""
    ok = isinstance(n, (int, np.integer)) and not isinstance(n, bool)
    if not (ok and n >= 1):
        raise ValueError(f"n must be a positive integer (number of samples), got {n!r}")
    return int(n)


def _start(score: SamplerScore, n, seed, x_init, dim, device, dtype) -> torch.Tensor:
    dim = dim if dim is not None else score.dim
    if x_init is not None:
        x = torch.as_tensor(x_init, dtype=dtype, device=device).clone()
        rows = x.shape[0] if x.ndim == 2 else None
        if x.ndim != 2 or (dim is not None and x.shape[1] != dim) or (n is not None and n != rows):
            want = f"({'n' if n is None else check_count(n)}, {'d' if dim is None else dim})"
            raise ValueError(f"x_init must have shape {want}, got {tuple(x.shape)}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError("x_init must be finite")
        return x
    if n is None:
        raise ValueError("give n (number of samples) or x_init")
    n = check_count(n)
    if dim is None:
        raise ValueError("the score has no .dim; pass dim=...")
    return initial_noise(n, dim, seed, score.process, device=device, dtype=dtype)


def _integrate(step, x: torch.Tensor, t: np.ndarray, keep_path: bool, progress: bool):
    path = [x.cpu().numpy().copy()] if keep_path else None
    steps = range(len(t) - 1)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="sampling", unit="step", leave=False)
    for k in steps:
        x = step(x, float(t[k]), float(t[k + 1]), k)
        if keep_path:
            path.append(x.cpu().numpy().copy())
    if keep_path:
        return Trajectory(t=t, x=np.stack(path))
    return x.cpu().numpy()


def sample_ode(
    score: Score,
    n: int | None = None,
    seed: int = 0,
    *,
    x_init: Any = None,
    process: str | Process | None = None,
    t_min: float = T_MIN,
    t_max: float | None = None,
    n_steps: int | None = None,
    method: str = "exponential",
    order: int = 2,
    spacing: str = "s",
    t_grid: np.ndarray | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    dim: int | None = None,
    return_trajectory: bool = False,
    progress: bool = False,
    device: Any = None,
    dtype: torch.dtype = torch.float64,
) -> np.ndarray | Trajectory:
    """Integrate the probability-flow ODE from T (or t_max) down to t_min.

    Starts from x_init, or from n draws of N(0, sigma(T)^2 I) with ``seed``.
    Default: Dormand-Prince 5(4) with per-sample step-size control and lock detection
    (tolerances rtol, atol on y = x / alpha; module docstring). With ``n_steps`` (grid
    ``spacing``) or ``t_grid``: a fixed grid, method "exponential" (in s, ``order`` 1 or 2)
    or "heun" (in t; 400 steps unless given). The score is called with one time per row
    (t of shape (B,)) by the adaptive default, with a float on a fixed grid.
    Returns the (n, d) final samples, or a Trajectory if return_trajectory (fixed grid only).
    """
    view = SamplerScore.of(score, process)
    proc, device = view.process, view.default_device(device)
    adaptive = n_steps is None and t_grid is None and method == "exponential"
    if t_grid is not None:
        t = check_grid(t_grid)
    else:
        # (the adaptive default reads only the two ends)
        steps = 1 if adaptive else (DEFAULT_STEPS if n_steps is None else n_steps)
        t = time_grid(proc, steps, t_min, t_max, spacing)
    x = _start(view, n, seed, x_init, dim, device, dtype)
    if adaptive:
        if return_trajectory:
            raise ValueError("return_trajectory needs a fixed grid: pass n_steps= or t_grid=")
        if order != 2:
            raise ValueError(f"order={order} applies to fixed grids: pass n_steps= or t_grid=")
        for name, tol in (("rtol", rtol), ("atol", atol)):
            if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {tol!r}")
        with view.mode(x):
            return adaptive_rk(view, x, float(t[0]), float(t[-1]), rtol, atol)
    if method == "exponential":
        if order not in (1, 2):
            raise ValueError(f"order must be 1 or 2, got {order}")
        step = exponential_step(view, t, order)
    elif method == "heun":
        step = heun_step(view)
    else:
        raise ValueError(f"unknown method {method!r}; allowed: 'exponential', 'heun'")
    with view.mode(x):
        return _integrate(step, x, t, return_trajectory, progress)


def sample_sde(
    score: Score,
    n: int | None = None,
    seed: int = 0,
    *,
    x_init: Any = None,
    process: str | Process | None = None,
    t_min: float = T_MIN,
    t_max: float | None = None,
    n_steps: int = 1000,
    spacing: str = "s",
    dim: int | None = None,
    return_trajectory: bool = False,
    progress: bool = False,
    device: Any = None,
    dtype: torch.dtype = torch.float64,
) -> np.ndarray | Trajectory:
    """Euler-Maruyama for the reverse SDE dx = [f x - g2 s] dt + sqrt(g2) dw, from T to t_min.

    The initial draw uses ``seed`` and the Brownian increments ``seed + 1``.
    """
    view = SamplerScore.of(score, process)
    proc, device = view.process, view.default_device(device)
    t = time_grid(proc, n_steps, t_min, t_max, spacing)
    x = _start(view, n, seed, x_init, dim, device, dtype)
    gen = torch.Generator().manual_seed(int(seed) + 1)

    def step(x, t0, t1, k):
        h = t0 - t1
        drift = float(proc.f(t0)) * x - float(proc.g2(t0)) * score(x, t0)
        z = torch.randn(x.shape, generator=gen, dtype=torch.float64).to(x)
        return x - h * drift + float(np.sqrt(proc.g2(t0) * h)) * z

    with view.mode(x):
        return _integrate(step, x, t, return_trajectory, progress)


def weights_along(score: Any, trajectory: Trajectory, index: int) -> np.ndarray:
    """Weights w_n(x(t_k), t_k) of trajectory ``index`` at every grid time: shape (K+1, N)."""
    x = torch.as_tensor(trajectory.x[:, index, :])
    return np.concatenate(
        [score.weights(x[k : k + 1], float(tk)).cpu().numpy() for k, tk in enumerate(trajectory.t)]
    )
