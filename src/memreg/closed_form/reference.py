"""A fine reference solution of the probability-flow ODE, independent of the samplers.

For checks of ``memreg.closed_form.sampling`` (tests and benchmarks): scipy's DOP853 on
the whole batch as one flattened system, in y = x / alpha and s = -log sigma_hat,

    dy/ds = -lambda(s) (y - D(y, s)),   lambda = sigma_hat^2 / (sigma_hat^2 + c / alpha^2),

with the empirical denoiser D = sum_n w_n x_n, w = softmax(-|alpha y - alpha x_n|^2 /
(2 sigma^2)) written out in numpy (log-sum-exp weights), from t = T to t_min. It shares no
code with the library's score or samplers beyond the process's schedule.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from .process import Process
from .sampling import T_MIN


def empirical_denoiser(x: np.ndarray, train: np.ndarray, alpha: float, sigma2: float):
    """D(x) = sum_n w_n x_n, w = softmax_n(-|x - alpha x_n|^2 / (2 sigma^2)), rows of x."""
    diff = x[:, None, :] - alpha * train[None]
    logits = -np.sum(diff * diff, axis=-1) / (2.0 * sigma2)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (p @ train) / p.sum(axis=1, keepdims=True)


def reference_in_s(
    x0: np.ndarray,
    train: np.ndarray,
    process: Process,
    c: float,
    t_min: float = T_MIN,
    tol: float = 1e-12,
    t_start: float | None = None,
) -> np.ndarray:
    """x(t_min) of every row of x0 = x(t_start) (default T), by DOP853 at rtol = atol =
    ``tol`` (above)."""
    n, d = x0.shape
    t_start = process.T if t_start is None else t_start
    s0, s1 = float(process.s_of_t(t_start)), float(process.s_of_t(t_min))

    def rhs(s, flat):
        y = flat.reshape(n, d)
        t = min(max(float(process.t_of_s(s)), t_min), process.T)
        a, s2 = float(process.alpha(t)), float(process.sigma2(t))
        sh2 = np.exp(-2.0 * s)
        lam = sh2 / (sh2 + c / a**2)
        return (-lam * (y - empirical_denoiser(a * y, train, a, s2))).ravel()

    y0 = x0 / float(process.alpha(t_start))
    sol = solve_ivp(rhs, (s0, s1), y0.ravel(), method="DOP853", rtol=tol, atol=tol)
    if not sol.success:
        raise RuntimeError(f"DOP853 reference failed: {sol.message}")
    return float(process.alpha(t_min)) * sol.y[:, -1].reshape(n, d)
