"""Reverse-time samplers for any score (x, t) -> s.

Probability-flow ODE of dx = f x dt + sqrt(g2) dw, integrated from t = T down to t_min:

    dx/dt = f(t) x - (1/2) g2(t) s(x, t).

Exponential integrator. With y = x / alpha, sigma_hat = sigma / alpha,
s = -log sigma_hat, and a score of the form s = (alpha D - x) / (sigma^2 + c),
the ODE reads

    dy/ds = -lambda(s) (y - D),      lambda = sigma_hat^2 / (sigma_hat^2 + c / alpha^2),

(lambda = 1 without regularization). Freezing D over a step of Lambda = int lambda ds
gives the first-order update  y <- D + (y - D) e^{-Lambda}  (PAPER.md); the
second-order update (exponential Heun, ETD2RK) adds (D_1 - D_0)(1 - (1 - e^{-Lambda}) / Lambda)
with D_1 the denoiser at the predicted end point. For a score without ``c`` (a
learned one) c = 0 and D is Tweedie's D = (x + sigma^2 s) / alpha.

Also: Heun's method on the ODE in t (a general explicit cross-check), and the
reverse SDE  dx = [f x - g2 s] dt + sqrt(g2) dw  by Euler-Maruyama.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .process import Process, make_process

Score = Callable[[torch.Tensor, Any], torch.Tensor]

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(8)


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
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
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


def _process_of(score: Score, process: str | Process | None) -> Process:
    if process is not None:
        return make_process(process)
    if hasattr(score, "process"):
        return score.process
    raise ValueError("the score has no .process; pass process=...")


def denoise(score: Score, x: torch.Tensor, t: float, process: Process) -> torch.Tensor:
    """D(x, t) = (x + (sigma^2 + c) s(x, t)) / alpha, or the score's own ``denoiser``."""
    if hasattr(score, "denoiser"):
        return score.denoiser(x, t)
    c = getattr(score, "c", 0.0)
    return (x + (float(process.sigma2(t)) + c) * score(x, t)) / float(process.alpha(t))


def lambda_integral(process: Process, c: float, s0: float, s1: float) -> float:
    """Lambda = int_{s0}^{s1} sigma_hat^2 / (sigma_hat^2 + c / alpha^2) ds, by Gauss-Legendre."""
    if c == 0.0:
        return s1 - s0
    s = 0.5 * (s0 + s1) + 0.5 * (s1 - s0) * _GL_NODES
    sh2 = np.exp(-2.0 * s)
    lam = sh2 / (sh2 + c / process.alpha(process.t_of_s(s)) ** 2)
    return float(0.5 * (s1 - s0) * np.dot(_GL_WEIGHTS, lam))


def initial_noise(n: int, dim: int, seed: int, process: Process, **kw: Any) -> torch.Tensor:
    """x(T) ~ N(0, sigma(T)^2 I), drawn on the CPU from ``seed`` (device independent)."""
    gen = torch.Generator().manual_seed(int(seed))
    z = torch.randn(n, dim, generator=gen, dtype=torch.float64)
    return (float(process.sigma(process.T)) * z).to(**kw)


def _start(score, n, seed, x_init, process, dim, device, dtype) -> torch.Tensor:
    if x_init is not None:
        return torch.as_tensor(x_init, dtype=dtype, device=device).clone()
    if n is None:
        raise ValueError("give n (number of samples) or x_init")
    dim = dim if dim is not None else getattr(score, "dim", None)
    if dim is None:
        raise ValueError("the score has no .dim; pass dim=...")
    return initial_noise(n, dim, seed, process, device=device, dtype=dtype)


def _default_device(score: Score, device):
    if device is not None:
        return device
    train = getattr(score, "train", None)
    return train.device if isinstance(train, torch.Tensor) else "cpu"


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
    t_min: float = 1e-6,
    t_max: float | None = None,
    n_steps: int = 400,
    method: str = "exponential",
    order: int = 2,
    spacing: str = "s",
    t_grid: np.ndarray | None = None,
    dim: int | None = None,
    return_trajectory: bool = False,
    progress: bool = False,
    device: Any = None,
    dtype: torch.dtype = torch.float64,
) -> np.ndarray | Trajectory:
    """Integrate the probability-flow ODE from T (or t_max) down to t_min.

    Starts from x_init, or from n draws of N(0, sigma(T)^2 I) with ``seed``.
    method: "exponential" (in s, ``order`` 1 or 2) or "heun" (in t).
    Returns the (n, d) final samples, or a Trajectory if return_trajectory.
    """
    proc = _process_of(score, process)
    device = _default_device(score, device)
    if t_grid is not None:
        t = check_grid(t_grid)
    else:
        t = time_grid(proc, n_steps, t_min, t_max, spacing)
    x = _start(score, n, seed, x_init, proc, dim, device, dtype)
    if method == "exponential":
        if order not in (1, 2):
            raise ValueError(f"order must be 1 or 2, got {order}")
        step = _exponential_step(score, proc, t, order)
    elif method == "heun":
        step = _heun_step(score, proc)
    else:
        raise ValueError(f"unknown method {method!r}; allowed: 'exponential', 'heun'")
    return _integrate(step, x, t, return_trajectory, progress)


def _exponential_step(score: Score, proc: Process, t: np.ndarray, order: int):
    c = float(getattr(score, "c", 0.0))
    s = proc.s_of_t(t)
    alpha = proc.alpha(t)

    def step(x, t0, t1, k):
        y = x / float(alpha[k])
        lam = lambda_integral(proc, c, float(s[k]), float(s[k + 1]))
        decay = float(np.exp(-lam))
        d0 = denoise(score, x, t0, proc)
        y1 = d0 + (y - d0) * decay
        if order == 2:
            d1 = denoise(score, float(alpha[k + 1]) * y1, t1, proc)
            y1 = y1 + (d1 - d0) * float(1.0 + np.expm1(-lam) / lam)
        return float(alpha[k + 1]) * y1

    return step


def ode_velocity(score: Score, proc: Process, x: torch.Tensor, t: float) -> torch.Tensor:
    """dx/dt = f(t) x - (1/2) g2(t) s(x, t)."""
    return float(proc.f(t)) * x - 0.5 * float(proc.g2(t)) * score(x, t)


def _heun_step(score: Score, proc: Process):
    def step(x, t0, t1, k):
        h = t1 - t0
        v0 = ode_velocity(score, proc, x, t0)
        x_pred = x + h * v0
        return x + 0.5 * h * (v0 + ode_velocity(score, proc, x_pred, t1))

    return step


def sample_sde(
    score: Score,
    n: int | None = None,
    seed: int = 0,
    *,
    x_init: Any = None,
    process: str | Process | None = None,
    t_min: float = 1e-6,
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
    proc = _process_of(score, process)
    device = _default_device(score, device)
    t = time_grid(proc, n_steps, t_min, t_max, spacing)
    x = _start(score, n, seed, x_init, proc, dim, device, dtype)
    gen = torch.Generator().manual_seed(int(seed) + 1)

    def step(x, t0, t1, k):
        h = t0 - t1
        drift = float(proc.f(t0)) * x - float(proc.g2(t0)) * score(x, t0)
        z = torch.randn(x.shape, generator=gen, dtype=torch.float64).to(x)
        return x - h * drift + float(np.sqrt(proc.g2(t0) * h)) * z

    return _integrate(step, x, t, return_trajectory, progress)


def weights_along(score: Any, trajectory: Trajectory, index: int) -> np.ndarray:
    """Weights w_n(x(t_k), t_k) of trajectory ``index`` at every grid time: shape (K+1, N)."""
    x = torch.as_tensor(trajectory.x[:, index, :])
    return np.concatenate(
        [score.weights(x[k : k + 1], float(tk)).cpu().numpy() for k, tk in enumerate(trajectory.t)]
    )
