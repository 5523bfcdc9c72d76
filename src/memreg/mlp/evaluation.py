"""Learned scores: sampling, memorization and score error of trained MLP groups
(families H, I, J of docs/settings.md).

A trained group is saved as one file (``save_group``/``load_group``) that holds
its architecture, the final EMA weights, the EMA weights at each snapshot
iteration and the loss history; ``evaluate_snapshots`` samples every model of
the group at every snapshot (``sample_group``: the fixed-grid sampler of the closed-form
scores down to the training's t_eps, then on to t = 0 for the nonsingular networks, as in
the authors' notebooks) and scores the samples with the same metrics as the closed-form
scores.
"""

from __future__ import annotations

import copy
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .. import metrics
from ..closed_form.process import Process
from ..closed_form.sampling import heun_in_t, initial_noise, sample_ode
from ..closed_form.score import EmpiricalScore
from ..io import atomic_path
from .model import Architecture, MLPGroup, ModelSpec
from .training import TrainResult, load_weights


class LearnedScore:
    """The scores of all M models of a group as one callable on stacked batches:
    x of shape (M * B, d) holds model m's batch in rows m B .. (m + 1) B - 1."""

    def __init__(self, group: MLPGroup, process: Process) -> None:
        self.group, self.process, self.dim = group, process, group.arch.dim

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, t: Any) -> torch.Tensor:
        M = self.group.n_models
        x32 = torch.as_tensor(x).to(torch.float32).reshape(M, -1, self.dim)
        tt = torch.as_tensor(t, dtype=torch.float32)  # a float, or one time per row
        tt = tt.reshape(M, -1) if tt.ndim == 1 else tt.expand(x32.shape[:2])
        s = self.group.score(x32, tt, self.process.sigma(tt))
        return s.reshape(-1, self.dim).to(torch.as_tensor(x).dtype)


def sampling_ends(group: MLPGroup, t_eps: float) -> torch.Tensor:
    """Where each model's samples end: t = 0 for a nonsingular network (s = net(x, t) is
    defined there; the authors integrate to t = 0), t = t_eps for a singular one
    (s = net / sigma diverges as t -> 0, and the network never saw t < t_eps, the smallest
    of its training times t ~ U(t_eps, T)). Shape (M,)."""
    end = torch.tensor(t_eps, dtype=torch.float64)
    return torch.where(group.singular, end, torch.zeros_like(end))


def sample_group(
    group: MLPGroup,
    process: Process,
    n: int,
    seed: int,
    n_steps: int,
    t_eps: float,
    final_steps: int,
) -> np.ndarray:
    """n probability-flow samples per model, all from the same n starting draws: (M, n, d).

    From T to t_eps every model runs ``sample_ode``'s fixed grid (exponential Heun on n_steps
    steps uniform in s = -log sigma_hat); from t_eps each model goes on to its end of
    ``sampling_ends`` by Heun's method in t on final_steps equal steps (``heun_in_t``): the
    nonsingular ones to t = 0, the singular ones stay at t_eps. The last piece is second
    order in its step and cheap (2 final_steps network calls); the whole path agrees with
    DOP853 in t on each network alone to ~1e-5 (tests/mlp/test_evaluation.py). Under ``vp``
    with t_eps = 1e-5 that piece moves a sample by about t_eps g2(0) |s| / 2 = 5e-9 |s|."""
    M, d = group.n_models, group.arch.dim
    x0 = initial_noise(n, d, seed, process).repeat(M, 1)
    score = LearnedScore(group, process)
    x = sample_ode(score, x_init=x0, process=process, t_min=t_eps, n_steps=n_steps)
    ends = sampling_ends(group, t_eps)
    if bool((ends < t_eps).any()):
        x = heun_in_t(score, x, t_eps, ends.repeat_interleave(n), final_steps, process)
    return x.reshape(M, n, d)


@torch.no_grad()
def score_error(
    group: MLPGroup,
    process: Process,
    train: np.ndarray,
    t_range: tuple[float, float],
    n_points: int,
    seed: int,
) -> np.ndarray:
    """Relative L2 error of each model's score against the closed-form score at points
    x_t = alpha x_n + sigma eps of the forward process, t ~ U(t_range): shape (M,)."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(*t_range, size=n_points)
    x0 = train[rng.integers(0, len(train), size=n_points)]
    xt = process.alpha(t)[:, None] * x0 + process.sigma(t)[:, None] * rng.standard_normal(x0.shape)
    exact = EmpiricalScore(train, process=process)
    target = torch.cat([exact(xt[k : k + 1], float(t[k])) for k in range(n_points)]).numpy()
    tt = torch.as_tensor(t, dtype=torch.float32).expand(group.n_models, n_points)
    xx = torch.as_tensor(xt, dtype=torch.float32).expand(group.n_models, n_points, -1)
    learned = group.score(xx, tt, process.sigma(tt)).double().numpy()
    return np.linalg.norm(learned - target, axis=(1, 2)) / np.linalg.norm(target)


def evaluate_snapshots(
    group: MLPGroup,
    snapshots: dict[int, list[torch.Tensor]],
    process: Process,
    train: np.ndarray,
    n_samples: int,
    seed: int,
    n_steps: int,
    t_eps: float,
    final_steps: int,
    deltas: list[float],
    n_boot: int,
    error_t_range: tuple[float, float],
    error_points: int,
) -> tuple[pd.DataFrame, dict[int, np.ndarray]]:
    """One row per model, snapshot iteration and delta: the specs, n_params, iteration,
    score_error and ``metrics.memorization_summary``; plus the samples per iteration
    (``sample_group`` with n_steps, t_eps, final_steps)."""
    work = copy.deepcopy(group)
    rows, samples = [], {}
    for iteration in sorted(snapshots):
        load_weights(work, snapshots[iteration])
        x = sample_group(work, process, n_samples, seed, n_steps, t_eps, final_steps)
        errors = score_error(work, process, train, error_t_range, error_points, seed)
        samples[iteration] = x
        for m, spec in enumerate(work.specs):
            for delta in deltas:
                rows.append(
                    {
                        "model": m,
                        **asdict(spec),
                        "width": work.arch.width,
                        "n_params": work.arch.n_params,
                        "iteration": iteration,
                        "score_error": float(errors[m]),
                        **metrics.memorization_summary(
                            x[m], train, delta, n_boot=n_boot, seed=seed
                        ),
                    }
                )
    return pd.DataFrame(rows), samples


@torch.no_grad()
def score_norms(
    group: MLPGroup, process: Process, train: np.ndarray, x_star: np.ndarray, t: np.ndarray
) -> pd.DataFrame:
    """|learned score| of each model and |closed-form score| at x* against t."""
    exact = EmpiricalScore(train, process=process)
    x = torch.as_tensor(x_star, dtype=torch.float32).reshape(1, 1, -1)
    rows = []
    for tk in t:
        tt = torch.full((group.n_models, 1), float(tk))
        learned = group.score(x.expand(group.n_models, 1, -1), tt, process.sigma(tt))
        closed = float(torch.linalg.norm(exact(np.reshape(x_star, (1, -1)), float(tk))))
        for m, spec in enumerate(group.specs):
            rows.append(
                {
                    "model": m,
                    "c": spec.c,
                    "parameterization": spec.parameterization,
                    "t": float(tk),
                    "learned_norm": float(torch.linalg.norm(learned[m])),
                    "closed_form_norm": closed,
                }
            )
    return pd.DataFrame(rows)


def save_group(path: str | Path, result: TrainResult) -> None:
    """Write a trained group: architecture, specs, final EMA weights, snapshots, losses."""
    record = {
        **result.group.architecture_record(),
        "final": result.group.state_dict(),
        "snapshots": {str(k): v for k, v in result.snapshots.items()},
        "loss_steps": torch.as_tensor(result.loss_steps),
        "losses": torch.as_tensor(result.losses),
    }
    with atomic_path(path) as tmp:
        torch.save(record, tmp)


def load_group(path: str | Path, expect: Architecture | None = None):
    """(group, snapshots, loss_steps, losses) from ``save_group``'s file, loaded with
    weights_only=True. With ``expect``, a file of another architecture is refused."""
    record = torch.load(path, map_location="cpu", weights_only=True)
    arch = Architecture(**record["architecture"])
    if expect is not None and arch != expect:
        diffs = [
            f"{k}: file has {v!r}, expected {getattr(expect, k)!r}"
            for k, v in asdict(arch).items()
            if getattr(expect, k) != v
        ]
        raise ValueError(f"{path} holds a different architecture: " + "; ".join(diffs))
    group = MLPGroup(arch, [ModelSpec(**s) for s in record["specs"]])
    group.load_state_dict(record["final"])
    snapshots = {int(k): v for k, v in record["snapshots"].items()}
    return group, snapshots, record["loss_steps"].numpy(), record["losses"].numpy()
