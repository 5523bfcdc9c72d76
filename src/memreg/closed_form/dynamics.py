"""Studies of the empirical-score dynamics (families B-E of docs/settings.md).

Each study runs the probability-flow ODE of the empirical score and returns
plain arrays (and tables) for ``memreg.io`` to save and ``memreg.outputs.plots`` to draw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import metrics
from .process import Process, make_process
from .sampling import sample_ode, weights_along
from .score import EmpiricalScore


def s_grid_times(process: Process, s_max: float, n_steps: int, s_min: float | None = None):
    """Times t(s) for s uniform on [s_min, s_max] (s_min defaults to s(T)), and the s grid."""
    s0 = float(process.s_of_t(process.T)) if s_min is None else s_min
    s = np.linspace(s0, s_max, n_steps + 1)
    return process.t_of_s(s), s


def trajectory_study(
    train: np.ndarray,
    process: str | Process,
    n_trajectories: int,
    seed: int,
    t_min: float,
    n_steps: int,
    weights_trajectory: int,
) -> dict[str, np.ndarray]:
    """Families B/C: probability-flow trajectories x(t) from N(0, sigma(T)^2 I) to t_min.

    Returns t (K+1,), x (K+1, n, d), sigma(t), the weights w_n(t) of trajectory
    ``weights_trajectory`` (K+1, N), the index of each trajectory's final nearest
    training point x*, and |x(t) - x*| (K+1, n).
    """
    score = EmpiricalScore(train, process=process)
    traj = sample_ode(
        score, n=n_trajectories, seed=seed, t_min=t_min, n_steps=n_steps, return_trajectory=True
    )
    _, _, nearest = metrics.nearest_distances(traj.final, train)
    distance = np.linalg.norm(traj.x - train[nearest][None], axis=-1)
    return {
        "t": traj.t,
        "x": traj.x,
        "sigma": score.process.sigma(traj.t),
        "weights": weights_along(score, traj, weights_trajectory),
        "weights_trajectory": np.array(weights_trajectory),
        "nearest": nearest,
        "distance": distance,
        "train": np.asarray(train),
    }


def convergence_study(
    train: np.ndarray,
    process: str | Process,
    n_trajectories: int,
    seed: int,
    s_max: float,
    n_steps: int,
    fit_window: tuple[float, float],
    tol: float,
    method: str = "heun",
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Family D: y(s) = x(t(s)) / alpha(t(s)) from s(T) to s_max, one fitted rate per trajectory.

    ``method`` is the ODE solver of ``sample_ode``; the default, Heun in t, knows nothing
    of the e^{-s} structure that the exponential integrator builds in, so the fitted
    rate is a measurement rather than a property of the solver.

    The rate r of |y(s) - x*| ~ K e^{-r s} is fitted over ``fit_window``; x* is the
    training point nearest to y(s_max). The limit is classified by
    ``metrics.classify_limit`` with tolerance ``tol``.
    """
    proc = make_process(process)
    score = EmpiricalScore(train, process=proc)
    t, s = s_grid_times(proc, s_max, n_steps)
    traj = sample_ode(
        score, n=n_trajectories, seed=seed, t_grid=t, method=method, return_trajectory=True
    )
    y = traj.x / proc.alpha(t)[:, None, None]
    limit = y[-1]
    kind = metrics.classify_limit(limit, train, tol)
    _, _, nearest = metrics.nearest_distances(limit, train)
    distance = np.linalg.norm(y - train[nearest][None], axis=-1)
    window = (float(fit_window[0]), float(fit_window[1]))
    rates = [metrics.fit_rate(s, distance[:, j], window) for j in range(n_trajectories)]
    table = pd.DataFrame(
        {
            "process": proc.name,
            "trajectory": np.arange(n_trajectories),
            "rate": rates,
            "limit_class": kind,
            "limit_index": np.where(kind == metrics.TRAINING_POINT, nearest, -1),
            "final_distance": distance[-1],
            "fit_s_min": fit_window[0],
            "fit_s_max": fit_window[1],
        }
    )
    return table, {"s": s, "distance": distance, "limit_index": table["limit_index"].to_numpy()}


def boundary_study(
    train: np.ndarray,
    starts: np.ndarray,
    process: str | Process,
    s_max: float,
    n_steps: int,
    tol: float,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Family E: integrate y(s) from each start at s(T) up to s_max.

    The theory predicts the limit: the mean of the training points equidistant
    from the start when the start lies on a Voronoi face (the dynamics keep the
    symmetry), else the start's cell point. The table records both.
    """
    proc = make_process(process)
    score = EmpiricalScore(train, process=proc)
    t, s = s_grid_times(proc, s_max, n_steps)
    x0 = float(proc.alpha(t[0])) * np.asarray(starts, dtype=np.float64)
    traj = sample_ode(score, x_init=x0, t_grid=t, return_trajectory=True)
    y = traj.x / proc.alpha(t)[:, None, None]
    limit = y[-1]
    predicted = metrics.equidistant_mean(starts, train)
    on_face = metrics.voronoi_boundary_distance(starts, train) < tol
    table = pd.DataFrame(
        {
            "start_x": starts[:, 0],
            "start_y": starts[:, 1],
            "start_on_face": on_face,
            "limit_x": limit[:, 0],
            "limit_y": limit[:, 1],
            "limit_class": metrics.classify_limit(limit, train, tol),
            "predicted_x": predicted[:, 0],
            "predicted_y": predicted[:, 1],
            "distance_to_predicted": np.linalg.norm(limit - predicted, axis=1),
        }
    )
    return table, {"s": s, "y": y, "train": np.asarray(train)}
