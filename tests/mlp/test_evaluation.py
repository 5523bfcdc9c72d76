"""Learned scores (memreg.mlp.evaluation): sampling a group, score error, evaluation tables,
saving and loading trained groups."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from memreg.closed_form.process import make_process
from memreg.closed_form.sampling import initial_noise
from memreg.closed_form.score import EmpiricalScore
from memreg.data import authors_points
from memreg.mlp.evaluation import (
    LearnedScore,
    evaluate_snapshots,
    load_group,
    sample_group,
    sampling_ends,
    save_group,
    score_error,
    score_norms,
)
from memreg.mlp.model import Architecture, MLPGroup, ModelSpec
from memreg.mlp.training import TrainConfig, load_weights, train

DATA = authors_points()
VP = make_process("vp")


@pytest.fixture(scope="module")
def trained():
    specs = [ModelSpec(seed=0), ModelSpec(seed=0, c=1e-1)]
    cfg = TrainConfig(iterations=1200, log_every=100, save_every=100, snapshots=(20, 1200))
    return train(MLPGroup(Architecture(width=64), specs), VP, DATA, cfg)


def test_learned_score_stacks_the_models():
    group = MLPGroup(
        Architecture(width=16), [ModelSpec(seed=1), ModelSpec(seed=2, parameterization="singular")]
    )
    x = torch.randn(2 * 5, 2, dtype=torch.float64)
    s = LearnedScore(group, VP)(x, 0.25)
    assert s.shape == (10, 2) and s.dtype == torch.float64
    t = torch.full((1, 5), 0.25)
    sigma = VP.sigma(t)
    one = group(x.float().reshape(2, 5, 2), t.expand(2, 5))
    torch.testing.assert_close(s[:5].float(), one[0])
    torch.testing.assert_close(s[5:].float(), one[1] / sigma[0][:, None])
    # One time per row (how the adaptive sampler calls a score): model m's rows m B .. .
    rows = torch.linspace(0.1, 0.9, 10, dtype=torch.float64)
    got = LearnedScore(group, VP)(x, rows)
    tt = rows.float().reshape(2, 5)
    ref = group.score(x.float().reshape(2, 5, 2), tt, VP.sigma(tt)).reshape(10, 2)
    torch.testing.assert_close(got.float(), ref)


def test_sample_group_uses_the_same_starts_for_every_model():
    group = MLPGroup(Architecture(width=16), [ModelSpec(seed=1), ModelSpec(seed=1)])
    x = sample_group(group, VP, 20, seed=3, n_steps=20, t_eps=1e-3, final_steps=2)
    assert x.shape == (2, 20, 2)
    np.testing.assert_allclose(x[0], x[1], rtol=1e-6)  # identical networks, identical starts


def dop853_flow(group: MLPGroup, n: int, seed: int, t_end: float) -> np.ndarray:
    """The probability flow of a one-network group from T to t_end in t by scipy's DOP853
    (the ODE dx/dt = f x - g2 s / 2 written out here, tolerance 1e-7), from sample_group's
    starts."""
    score = LearnedScore(group, VP)
    x0 = initial_noise(n, group.arch.dim, seed, VP).numpy()

    def rhs(t, flat):
        x = torch.as_tensor(flat.reshape(x0.shape))
        return (float(VP.f(t)) * x - 0.5 * float(VP.g2(t)) * score(x, t)).numpy().ravel()

    sol = solve_ivp(rhs, (VP.T, t_end), x0.ravel(), method="DOP853", rtol=1e-7, atol=1e-7)
    assert sol.success, sol.message
    return sol.y[:, -1].reshape(x0.shape)


def test_sample_group_ends_nonsingular_at_zero_and_singular_at_t_eps():
    """Against DOP853 in t on each network alone: the nonsingular network's samples reach
    t = 0, the singular network's stop at t_eps (0.05 here, so that the two ends lie apart:
    stopping the nonsingular one at t_eps would miss by > 10 times the tolerance)."""
    specs = [ModelSpec(seed=1), ModelSpec(seed=2, parameterization="singular")]
    group = MLPGroup(Architecture(width=16), specs)
    n, seed, t_eps = 10, 3, 0.05
    assert sampling_ends(group, t_eps).tolist() == [0.0, t_eps]
    x = sample_group(group, VP, n, seed, n_steps=200, t_eps=t_eps, final_steps=4)
    alone = [MLPGroup(group.arch, [spec]) for spec in specs]
    at_zero = dop853_flow(alone[0], n, seed, 0.0)
    tol = 1e-4  # measured 1.1e-5 and 1.8e-5
    np.testing.assert_allclose(x[0], at_zero, rtol=0, atol=tol)
    np.testing.assert_allclose(x[1], dop853_flow(alone[1], n, seed, t_eps), rtol=0, atol=tol)
    assert np.abs(dop853_flow(alone[0], n, seed, t_eps) - at_zero).max() > 10 * tol


def test_score_error_falls_with_training(trained):
    """The learned score approaches the closed-form score at moderate t (0.1 <= t <= 1)."""
    errors_early = score_error(_at(trained, 20), VP, DATA, (0.1, 1.0), 300, seed=0)
    errors_late = score_error(trained.group, VP, DATA, (0.1, 1.0), 300, seed=0)
    assert np.all(errors_late < errors_early)
    assert np.all(errors_late < 1.0)


def _at(result, iteration):
    group = copy.deepcopy(result.group)
    load_weights(group, result.snapshots[iteration])
    return group


def test_evaluate_snapshots_table(trained):
    table, samples = evaluate_snapshots(
        trained.group,
        trained.snapshots,
        VP,
        DATA,
        n_samples=50,
        seed=0,
        n_steps=20,
        t_eps=1e-5,
        final_steps=2,
        deltas=[1e-2, 5e-1],
        n_boot=100,
        error_t_range=(0.1, 1.0),
        error_points=50,
    )
    assert len(table) == 2 * 2 * 2  # snapshots x models x deltas
    assert set(samples) == {20, 1200} and samples[1200].shape == (2, 50, 2)
    assert {
        "c",
        "parameterization",
        "iteration",
        "delta",
        "fraction_matched",
        "ci_low",
        "ci_high",
        "score_error",
        "n_params",
        "width",
    } <= set(table.columns)
    wide = table[table["delta"] == 5e-1]
    narrow = table[table["delta"] == 1e-2]
    assert np.all(wide["fraction_matched"].to_numpy() >= narrow["fraction_matched"].to_numpy())


def test_score_norms_compares_with_the_closed_form(trained):
    x_star = DATA[0] + 0.1
    t = np.geomspace(1.0, 1e-4, 5)
    table = score_norms(trained.group, VP, DATA, x_star, t)
    exact = EmpiricalScore(DATA, process=VP)
    assert len(table) == 2 * 5
    for tk, rows in table.groupby("t"):
        assert rows["closed_form_norm"].iloc[0] == pytest.approx(
            float(torch.linalg.norm(exact(x_star[None], tk)))
        )


def test_save_and_load_group_round_trip(tmp_path, trained):
    path = tmp_path / "model.pt"
    save_group(path, trained)
    group, snapshots, steps, losses = load_group(path, expect=Architecture(width=64))
    for a, b in zip(group.parameters(), trained.group.parameters()):
        assert torch.equal(a, b)
    assert set(snapshots) == {20, 1200}
    np.testing.assert_array_equal(losses, trained.losses)
    with pytest.raises(
        ValueError, match="different architecture: width: file has 64, expected 128"
    ):
        load_group(path, expect=Architecture(width=128))
