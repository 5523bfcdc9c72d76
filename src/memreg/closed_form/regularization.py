"""Closed-form regularization studies (families F, F' and G of docs/settings.md).

Samples of the probability-flow ODE driven by a regularized closed-form score
(``score.make_score``: Tikhonov c, or asymptotic consistency tau), how many of
them match the training data, and the size of the score as t -> 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from .. import metrics
from .process import Process
from .sampling import Trajectory, sample_ode
from .score import SCORE_KINDS, EmpiricalScore, make_score

# The regularization sweeps (families F and G): each regularized kind of SCORE_KINDS -> the
# one parameter it sweeps, whose values config regularization.<kind>_<param> lists
# (``sweep_key``). The workflow's {kind} wildcard takes these.
SWEEP_PARAMS = {kind: params[0] for kind, params in SCORE_KINDS.items() if params}


def sweep_key(kind: str) -> str:
    """The config key (under ``regularization``) of sweep ``kind``'s values: tikhonov_c, ..."""
    return f"{kind}_{SWEEP_PARAMS[kind]}"


def sampling_study(
    train: np.ndarray,
    score_spec: dict[str, Any],
    process: str | Process,
    n_samples: int,
    seed: int,
    t_min: float,
    n_steps: int,
    delta: float,
    n_boot: int = metrics.N_BOOT,
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Sample the ODE of ``make_score(train, **score_spec)`` and summarise memorization.

    Returns (row, samples, predicted): the table row (process, the score's
    parameters, ``metrics.memorization_summary`` columns and, for Tikhonov, the
    median of the final distance over sqrt(c), measured and as predicted by
    ``locked_contraction``), the (n, d) samples, and each sample's predicted final
    distance (NaN where it never locked).
    """
    score = make_score(train, process=process, **score_spec)
    traj = sample_ode(
        score, n=n_samples, seed=seed, t_min=t_min, n_steps=n_steps, return_trajectory=True
    )
    samples = traj.final
    params = {k: float(v) for k, v in score_spec.items() if k != "kind"}
    row = {
        "process": score.process.name,
        **params,
        **metrics.memorization_summary(samples, train, delta, n_boot=n_boot, seed=seed),
    }
    predicted = locked_contraction(score, traj)
    if score.c > 0:
        d1 = metrics.nearest_distances(samples, train)[0]
        row["median_distance_over_sqrt_c"] = float(np.median(d1) / np.sqrt(score.c))
        row["predicted_median_distance_over_sqrt_c"] = float(
            np.nanmedian(predicted) / np.sqrt(score.c)
        )
    return row, samples, predicted


def locked_contraction(score: EmpiricalScore, traj: Trajectory, tol: float = 1e-9) -> np.ndarray:
    """Predicted final distance to the data once the weights have locked onto one point.

    After the lock time t_l (from which on max_n w_n > 1 - tol), D = x_n and the
    Tikhonov ODE dy/ds = -lambda (y - x_n) contracts y - x_n by
    exp(-int lambda ds) = sqrt((sigma^2(t_end) + c) / (sigma^2(t_l) + c))  (alpha = 1),
    so  |y(t_end) - x_n| = |y(t_l) - x_n| sqrt((sigma^2(t_end) + c) / (sigma^2(t_l) + c)).
    The VE form; for VP it holds up to the variation of alpha near t = 0.
    """
    proc, train = score.process, score.train.cpu().numpy()
    x = torch.as_tensor(traj.x)
    wmax = np.stack(
        [
            score.weights(x[k], float(tk)).max(dim=1).values.cpu().numpy()
            for k, tk in enumerate(traj.t)
        ]
    )
    locked = np.flip(np.cumprod(np.flip(wmax > 1.0 - tol, axis=0), axis=0), axis=0).astype(bool)
    k_lock = np.argmax(locked, axis=0)
    ever = locked[-1]
    cols = np.arange(x.shape[1])
    y_lock = traj.x[k_lock, cols] / proc.alpha(traj.t[k_lock])[:, None]
    nearest = metrics.nearest_distances(y_lock, train)
    s2_lock, s2_end = proc.sigma_hat(traj.t[k_lock]) ** 2, proc.sigma_hat(traj.t[-1]) ** 2
    predicted = nearest[0] * np.sqrt((s2_end + score.c) / (s2_lock + score.c))
    return np.where(ever, predicted, np.nan)


def score_norm_curves(
    train: np.ndarray,
    x_star: np.ndarray,
    c_values: list[float],
    process: str | Process,
    t: np.ndarray,
) -> pd.DataFrame:
    """|s_c(x*, t)| on the grid t for each c, with the t -> 0 limit |x* - x_i| / c (x_i the
    training point nearest to x*) and the bound max_n |x* - x_n| / c (infinite for c = 0)."""
    x_star = np.asarray(x_star, dtype=np.float64).reshape(1, -1)
    dist = np.linalg.norm(train - x_star, axis=1)
    rows = []
    for c in c_values:
        score = EmpiricalScore(train, c=c, process=process)
        norms = [float(torch.linalg.norm(score(x_star, float(tk)))) for tk in t]
        rows.append(
            pd.DataFrame(
                {
                    "c": float(c),
                    "t": t,
                    "score_norm": norms,
                    "limit": dist.min() / c if c > 0 else np.inf,
                    "bound": dist.max() / c if c > 0 else np.inf,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)
