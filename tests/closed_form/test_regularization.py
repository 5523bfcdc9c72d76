"""Closed-form regularization: the consistency score, the score registry, and the
theory of families F, F' and G (memreg.closed_form.regularization)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from memreg import metrics
from memreg.closed_form.process import make_process
from memreg.closed_form.regularization import locked_contraction, sampling_study, score_norm_curves
from memreg.closed_form.sampling import sample_ode
from memreg.closed_form.score import EmpiricalScore, make_score
from memreg.data import authors_points

TRAIN = authors_points()


def naive_consistency_score(x, t, tau, process):
    """w_n = phi_n / max(sum_k phi_k, tau), s = (alpha sum w_n x_n - (sum w_n) x) / sigma^2."""
    proc = make_process(process)
    alpha, sigma2 = float(proc.alpha(t)), float(proc.sigma2(t))
    log_phi = -((x[:, None, :] - alpha * TRAIN[None]) ** 2).sum(-1) / (2 * sigma2)
    log_den = np.maximum(logsumexp(log_phi, axis=1), np.log(tau))
    w = np.exp(log_phi - log_den[:, None])
    return (alpha * w @ TRAIN - w.sum(1)[:, None] * x) / sigma2


@pytest.mark.parametrize("process", ["ve_talk", "ve", "vp"])
@pytest.mark.parametrize("tau", [1e-3, 0.1, 1.0, 10.0, 1e3])
def test_consistency_score_matches_its_definition(process, tau):
    x = np.random.default_rng(1).normal(size=(7, 2)) * 1.5
    score = make_score(TRAIN, "consistency", process, tau=tau)
    for t in (1e-3, 0.1, 0.7):
        ref = naive_consistency_score(x, t, tau, process)
        np.testing.assert_allclose(score(x, t).numpy(), ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("tau", [1e-3, 1.0, 1e3])
def test_consistency_score_is_finite_down_to_tiny_t(tau):
    x = np.vstack([TRAIN[:3] + 1e-9, np.random.default_rng(2).normal(size=(5, 2)) * 3])
    score = make_score(TRAIN, "consistency", "ve", tau=tau)
    for t in (1e-8, 1e-6, 1e-4):
        assert torch.isfinite(score(x, t)).all()
        assert torch.isfinite(score.denoiser(x, t)).all()


def test_consistency_score_is_the_empirical_score_times_mass():
    """W = min(1, sum phi / tau): below the threshold the score shrinks, above it is unchanged."""
    x = np.array([[0.0, 0.0], [5.0, 5.0]])
    t = 0.3
    empirical = EmpiricalScore(TRAIN, process="ve")(x, t).numpy()
    tau = 0.5
    consistent = make_score(TRAIN, "consistency", "ve", tau=tau)(x, t).numpy()
    log_phi = -((x[:, None, :] - TRAIN[None]) ** 2).sum(-1) / (
        2 * float(make_process("ve").sigma2(t))
    )
    mass = np.minimum(1.0, np.exp(logsumexp(log_phi, axis=1)) / tau)
    assert mass[0] == 1.0 and mass[1] < 1e-3
    np.testing.assert_allclose(consistent, mass[:, None] * empirical, rtol=1e-10)


def test_tweedie_denoiser_matches_the_score():
    x = np.random.default_rng(3).normal(size=(6, 2))
    for spec in ({"kind": "tikhonov", "c": 1e-2}, {"kind": "consistency", "tau": 2.0}):
        score = make_score(TRAIN, process="vp", **spec)
        t = 0.2
        proc = score.process
        expected = (torch.as_tensor(x) + (float(proc.sigma2(t)) + score.c) * score(x, t)) / float(
            proc.alpha(t)
        )
        torch.testing.assert_close(score.denoiser(x, t), expected, rtol=1e-12, atol=1e-12)


def test_make_score_registry_refuses_bad_specs():
    assert make_score(TRAIN, "empirical").c == 0.0
    assert make_score(TRAIN, "tikhonov", c=1e-3).c == 1e-3
    with pytest.raises(ValueError, match="kind = 'ridge' is not allowed: one of"):
        make_score(TRAIN, "ridge")
    with pytest.raises(ValueError, match="missing \\['c'\\]"):
        make_score(TRAIN, "tikhonov")
    with pytest.raises(ValueError, match="unexpected \\['c'\\]"):
        make_score(TRAIN, "consistency", tau=1.0, c=1.0)
    with pytest.raises(ValueError, match="tau = -1.0 is not allowed: a finite real number >= 0"):
        make_score(TRAIN, "consistency", tau=-1.0)
    with pytest.raises(ValueError, match="c = -0.001 is not allowed: a finite real number >= 0"):
        make_score(TRAIN, "tikhonov", c=-1e-3)


def test_tikhonov_score_is_bounded_as_t_goes_to_zero():
    t = np.geomspace(1.0, 1e-8, 60)
    x_star = np.array([2.0, 2.0])
    table = score_norm_curves(TRAIN, x_star, [0.0, 1e-3, 1e-1], "ve", t)
    dist = np.linalg.norm(TRAIN - x_star, axis=1)
    for c, rows in table.groupby("c"):
        norms = rows["score_norm"].to_numpy()
        if c == 0:  # unbounded: sigma^2 |s_0(x*, t)| -> |x* - x_i| as t -> 0
            sigma2 = make_process("ve").sigma2(t)
            assert sigma2[-1] * norms[-1] == pytest.approx(dist.min(), rel=1e-6)
            assert norms[-1] > 1e5 * dist.max()
        else:
            assert np.all(norms <= dist.max() / c * (1 + 1e-12))
            assert norms[-1] == pytest.approx(dist.min() / c, rel=1e-4)  # sigma^2(1e-8) / c


@pytest.mark.parametrize("c", [1e-4, 1e-3, 1e-2])
def test_final_distance_follows_the_locked_contraction(c):
    """Theory: after the weights lock onto x_n, y - x_n shrinks only by
    sqrt((sigma^2(t_end) + c) / (sigma^2(t_lock) + c)), so samples stop ~ sqrt(c) away.
    Integrated with Heun's method in t, which knows nothing of that factor."""
    score = EmpiricalScore(TRAIN, c=c, process="ve")
    traj = sample_ode(
        score, n=200, seed=5, t_min=1e-6, n_steps=3000, method="heun", return_trajectory=True
    )
    measured = metrics.nearest_distances(traj.final, TRAIN)[0]
    predicted = locked_contraction(score, traj)
    locked = np.isfinite(predicted)
    assert locked.mean() > 0.95
    ratio = measured[locked] / predicted[locked]
    assert np.median(ratio) == pytest.approx(1.0, abs=0.02)
    assert np.quantile(ratio, 0.9) < 1.1
    # Distances scale like sqrt(c): d / sqrt(c) is O(1), independent of c.
    assert 0.5 < np.median(measured) / np.sqrt(c) < 2.0


def test_fraction_matched_falls_with_c_and_tau():
    """Smaller scale than the paper (300 samples), same statements."""
    rows = [
        sampling_study(
            TRAIN, {"kind": "tikhonov", "c": c}, "ve", 300, 0, 1e-6, 150, 1e-2, n_boot=500
        )[0]
        for c in (1e-5, 1e-3, 1e-1)
    ]
    frac = [r["fraction_matched"] for r in rows]
    assert frac[0] > 0.9 and frac[-1] < 0.05
    for lo, hi in zip(rows[1:], rows[:-1]):  # non-increasing within the intervals
        assert lo["ci_low"] <= hi["ci_high"]
        assert lo["fraction_matched"] <= hi["fraction_matched"] + 1e-12
    rows = [
        sampling_study(
            TRAIN, {"kind": "consistency", "tau": tau}, "ve", 300, 0, 1e-6, 150, 1e-2, n_boot=500
        )[0]
        for tau in (1e-2, 1.0, 10.0)
    ]
    frac = [r["fraction_matched"] for r in rows]
    assert frac[0] > 0.9 and frac[0] >= frac[1] >= frac[2]
    assert frac[2] < 0.1
