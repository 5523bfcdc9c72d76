"""Samplers: the exponential integrator against independent scipy references (the ODE in t),
convergence orders, Heun, reproducibility, time grids, the reverse SDE and collapse."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp
from scipy.special import logsumexp

from memreg.closed_form import lock, sampling
from memreg.closed_form.process import make_process
from memreg.closed_form.reference import reference_in_s as dop853_in_s
from memreg.closed_form.sampler_score import SamplerScore
from memreg.closed_form.sampling import (
    Trajectory,
    heun_in_t,
    initial_noise,
    ode_velocity,
    sample_ode,
    sample_sde,
    time_grid,
    weights_along,
)
from memreg.closed_form.score import EmpiricalScore
from memreg.data import authors_points

NAMES = ["ve_talk", "ve", "vp"]
TRAIN = authors_points()


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """The samplers make thousands of tiny torch calls; with intra-op threads on a busy
    machine each one can cost milliseconds (threads spin-waiting), so run them on one."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def np_velocity(proc, train, c, t, x):
    """dx/dt = f x - (g2 / 2) s(x, t) for a batch x of shape (B, d), in numpy, with
    s = (alpha sum_n w_n x_n - x) / (sigma^2 + c) and log-sum-exp weights."""
    a, s2 = float(proc.alpha(t)), float(proc.sigma2(t))
    f, g2 = float(proc.f(t)), float(proc.g2(t))
    diff = x[:, None, :] - a * train[None, :, :]
    logits = -np.sum(diff * diff, axis=-1) / (2.0 * s2)
    w = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
    return f * x - 0.5 * g2 * (a * w @ train - x) / (s2 + c)


def reference(proc, x0, t0, t1, *, c=0.0, train=TRAIN, method="DOP853", tol=1e-12):
    """solve_ivp on the probability-flow ODE in t, all trajectories as one system."""
    n, d = x0.shape

    def rhs(t, flat):
        return np_velocity(proc, train, c, t, flat.reshape(n, d)).ravel()

    sol = solve_ivp(rhs, (t0, t1), x0.ravel(), method=method, rtol=tol, atol=tol)
    assert sol.success, sol.message
    return sol.y[:, -1].reshape(n, d)


def s_grid(proc, s0, s1, steps):
    return np.asarray(proc.t_of_s(np.linspace(s0, s1, steps + 1)), dtype=np.float64)


def nearest(x, train=TRAIN):
    return np.sqrt(((x[:, None, :] - train[None]) ** 2).sum(-1)).min(axis=1)


@pytest.mark.parametrize("name", NAMES)
def test_exponential_matches_dop853_in_t(name):
    """Mandatory solver cross-check: order-2 exponential integrator in s vs DOP853 in t.
    Measured max errors: 3e-10 / 7e-11 / 2e-10 (ve_talk / ve / vp) at 4000 steps (~1 s each),
    1e-11 / 3e-12 / 7e-12 at 20000 steps (~5 s each), so 4000 steps meet 1e-6 with room."""
    proc = make_process(name)
    score = EmpiricalScore(TRAIN, process=proc)
    x0 = initial_noise(6, 2, seed=0, process=proc).numpy()
    tg = s_grid(proc, 0.0, 10.0, 4000)
    got = sample_ode(score, x_init=x0, t_grid=tg, method="exponential", order=2)
    ref = reference(proc, x0, tg[0], tg[-1])
    err = np.abs(got - ref).max()
    assert err < 1e-6, err
    # The check is not vacuous: the trajectories moved a lot and ended near data.
    assert np.abs(ref - x0).min(axis=1).max() > 0.1
    assert nearest(ref).max() < 1e-3


def test_ode_velocity_matches_numpy_formula():
    for name in NAMES:
        proc = make_process(name)
        score = EmpiricalScore(TRAIN, c=1e-3, process=proc)
        x = 2.0 * np.random.default_rng(0).standard_normal((5, 2))
        for t in [1e-4, 0.3, 1.0]:
            got = ode_velocity(score, proc, torch.as_tensor(x), t).numpy()
            ref = np_velocity(proc, TRAIN, 1e-3, t, x)
            np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())


def test_authors_rk45_reference_ve():
    """The authors integrate with RK45 (rtol = atol = 1e-5) from T to eps = 1e-6; the default
    sampler (adaptive Dormand-Prince) must land on the same samples (measured max 3e-6)."""
    proc = make_process("ve")
    score = EmpiricalScore(TRAIN, process=proc)
    x0 = initial_noise(50, 2, seed=3, process=proc).numpy()
    got = sample_ode(score, x_init=x0, t_min=1e-6)
    ref = reference(proc, x0, proc.T, 1e-6, method="RK45", tol=1e-5)
    assert np.abs(got - ref).max() < 1e-3
    assert np.median(np.abs(got - ref)) < 1e-4


@pytest.mark.parametrize("c", [0.0, 1e-2])
@pytest.mark.parametrize("name", NAMES)
def test_heun_and_exponential_agree(name, c):
    proc = make_process(name)
    score = EmpiricalScore(TRAIN, c=c, process=proc)
    x0 = initial_noise(8, 2, seed=1, process=proc).numpy()
    tg = s_grid(proc, 0.0, 6.0, 1500)
    heun = sample_ode(score, x_init=x0, t_grid=tg, method="heun")
    expo = sample_ode(score, x_init=x0, t_grid=tg, method="exponential", order=2)
    assert np.abs(heun - expo).max() < 1e-5
    ref = reference(proc, x0, tg[0], tg[-1], c=c, tol=1e-11)
    assert np.abs(expo - ref).max() < 1e-5
    assert np.abs(heun - ref).max() < 1e-5


@pytest.mark.parametrize("c", [0.0, 1e-2])
@pytest.mark.parametrize("name", NAMES)
def test_convergence_orders(name, c):
    """Order 1 loses a factor ~2 and order 2 a factor ~4 per halving of the step."""
    proc = make_process(name)
    score = EmpiricalScore(TRAIN, c=c, process=proc)
    x0 = initial_noise(16, 2, seed=0, process=proc).numpy()
    ref = reference(proc, x0, float(proc.t_of_s(0.0)), float(proc.t_of_s(2.0)), c=c)
    steps = [80, 160, 320]
    for order, lo, hi in [(1, 0.8, 1.3), (2, 1.7, 2.4)]:
        errs = []
        for k in steps:
            x = sample_ode(score, x_init=x0, t_grid=s_grid(proc, 0.0, 2.0, k), order=order)
            # Median over trajectories: one start near a saddle is pre-asymptotic at order 1.
            errs.append(np.median(np.abs(x - ref).max(axis=1)))
        rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
        assert np.all((rates > lo) & (rates < hi)), (order, errs, rates)


def test_same_seed_same_samples_and_trajectory():
    score = EmpiricalScore(TRAIN)
    a = sample_ode(score, n=12, seed=4, n_steps=60)
    b = sample_ode(score, n=12, seed=4, n_steps=60)
    c = sample_ode(score, n=12, seed=5, n_steps=60)
    assert isinstance(a, np.ndarray) and a.shape == (12, 2)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3
    traj = sample_ode(score, n=12, seed=4, n_steps=60, return_trajectory=True)
    assert isinstance(traj, Trajectory)
    assert traj.t.shape == (61,) and traj.x.shape == (61, 12, 2)
    np.testing.assert_array_equal(traj.x[-1], a)
    np.testing.assert_array_equal(traj.final, a)
    np.testing.assert_array_equal(traj.t, time_grid(score.process, 60, 1e-6))
    proc = score.process
    np.testing.assert_array_equal(traj.x[0], initial_noise(12, 2, 4, proc).numpy())
    # The start is N(0, sigma(T)^2 I): check the scale on many draws for VE.
    ve = make_process("ve")
    z = initial_noise(20000, 2, 0, ve).numpy()
    assert z.std() == pytest.approx(float(ve.sigma(1.0)), rel=0.02)


def test_x_init_and_validation():
    score = EmpiricalScore(TRAIN)
    x0 = np.array([[0.3, -0.2], [2.0, 2.0]])
    traj = sample_ode(score, x_init=x0, n_steps=10, return_trajectory=True)
    np.testing.assert_array_equal(traj.x[0], x0)
    with pytest.raises(ValueError):
        sample_ode(score, x_init=x0, n_steps=10, order=3)
    with pytest.raises(ValueError):
        sample_ode(score, x_init=x0, n_steps=10, method="rk4")
    with pytest.raises(ValueError):
        sample_ode(score)
    with pytest.raises(ValueError):
        sample_ode(lambda x, t: -x, n=3)


def test_score_without_denoiser_uses_tweedie():
    """A plain callable (like a learned score) goes through D = (x + sigma^2 s) / alpha."""
    for name in NAMES:
        emp = EmpiricalScore(TRAIN, process=name)
        plain = lambda x, t, emp=emp: emp(x, t)  # noqa: E731
        x0 = initial_noise(5, 2, 2, emp.process).numpy()
        a = sample_ode(emp, x_init=x0, n_steps=50, t_min=1e-3)
        b = sample_ode(plain, x_init=x0, n_steps=50, t_min=1e-3, process=name)
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_time_grid(name):
    proc = make_process(name)
    k = 50
    for spacing in ["s", "t", "edm"]:
        t = time_grid(proc, k, 1e-5, spacing=spacing)
        assert t.shape == (k + 1,) and t.dtype == np.float64
        assert t[0] == proc.T and t[-1] == 1e-5
        assert np.all(np.diff(t) < 0)
    t = time_grid(proc, k, 1e-5, spacing="s")
    ds = np.diff(proc.s_of_t(t))
    np.testing.assert_allclose(ds, ds[0], rtol=1e-9)
    t = time_grid(proc, k, 1e-5, spacing="t")
    np.testing.assert_allclose(np.diff(t), (1e-5 - proc.T) / k, rtol=1e-9)
    t = time_grid(proc, k, 1e-5, spacing="edm")
    u = proc.sigma_hat(t) ** (1 / 7)
    np.testing.assert_allclose(np.diff(u), np.diff(u)[0], rtol=1e-9)
    t = time_grid(proc, 7, 1e-3, t_max=0.5)
    assert t[0] == 0.5 and t[-1] == 1e-3 and len(t) == 8


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(n_steps=10, t_min=0.0),
        dict(n_steps=10, t_min=-1e-3),
        dict(n_steps=10, t_min=1.0),
        dict(n_steps=10, t_min=0.5, t_max=0.1),
        dict(n_steps=0, t_min=1e-3),
        dict(n_steps=10, t_min=1e-3, spacing="log"),
    ],
)
def test_time_grid_rejects_bad_input(kwargs):
    with pytest.raises(ValueError):
        time_grid(make_process("ve"), **kwargs)


def test_sde_reproducible_shapes_and_near_data():
    score = EmpiricalScore(TRAIN, process="ve_talk")
    a = sample_sde(score, n=200, seed=7, n_steps=1000)
    b = sample_sde(score, n=200, seed=7, n_steps=1000)
    c = sample_sde(score, n=200, seed=8, n_steps=1000)
    assert a.shape == (200, 2)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-2
    assert np.mean(nearest(a) < 0.05) > 0.9
    # Noise matters: the SDE from the same start differs from the ODE.
    ode = sample_ode(score, n=200, seed=7, n_steps=1000)
    assert np.mean(np.abs(a - ode).max(axis=1) > 1e-3) > 0.1
    traj = sample_sde(score, n=3, seed=7, n_steps=20, return_trajectory=True)
    assert traj.t.shape == (21,) and traj.x.shape == (21, 3, 2)
    np.testing.assert_array_equal(traj.x[0], initial_noise(3, 2, 7, score.process).numpy())


@pytest.mark.parametrize("name", NAMES)
def test_samplers_transport_a_gaussian(name):
    """One training point at 0: p(x, t) = N(0, sigma(t)^2 I) exactly, and both the reverse
    SDE and the probability-flow ODE started from N(0, sigma(T)^2 I) must keep that law."""
    proc = make_process(name)
    score = EmpiricalScore(np.zeros((1, 2)), process=proc)
    t_min = float(proc.t_of_sigma_hat(0.1))
    target = float(proc.sigma(t_min))
    sde = sample_sde(score, n=4000, seed=3, n_steps=400, t_min=t_min)
    ode = sample_ode(score, n=4000, seed=3, n_steps=50, t_min=t_min)
    assert sde.std() == pytest.approx(target, rel=0.04)
    assert np.abs(sde.mean(axis=0)).max() < 4 * target / np.sqrt(4000)
    # The ODE maps N(0, sigma(T)^2) to N(0, sigma(t)^2) deterministically: x scales by
    # sigma(t_min) / sigma(T) (the Gaussian case of the exponential update is exact).
    x0 = initial_noise(4000, 2, 3, proc).numpy()
    np.testing.assert_allclose(ode, x0 * target / float(proc.sigma(proc.T)), rtol=1e-10)


def test_weights_along():
    score = EmpiricalScore(TRAIN, process="ve")
    traj = sample_ode(score, n=4, seed=0, n_steps=100, return_trajectory=True)
    w = weights_along(score, traj, 2)
    assert w.shape == (101, 20)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    for k in [0, 40, 100]:
        np.testing.assert_allclose(
            w[k], score.weights(traj.x[k, 2:3], traj.t[k]).numpy()[0], rtol=1e-14
        )
    # Spread out at T, one-hot on the nearest training point at t_min.
    assert w[0].max() < 0.9
    i = np.argmin(((TRAIN - traj.x[-1, 2]) ** 2).sum(-1))
    assert w[-1, i] > 1 - 1e-9


def test_unregularized_samples_collapse_onto_training_points():
    score = EmpiricalScore(TRAIN, process="ve_talk")
    x = sample_ode(score, n=300, seed=11, t_min=1e-6)
    d = nearest(x)
    assert np.mean(d < 1e-2) == 1.0
    # ... and every training point is reached by some sample.
    idx = np.argmin(((x[:, None] - TRAIN[None]) ** 2).sum(-1), axis=1)
    assert len(np.unique(idx)) >= 15


def test_regularized_samples_do_not_all_collapse():
    score = EmpiricalScore(TRAIN, c=1e-1, process="ve_talk")
    x = sample_ode(score, n=300, seed=11, t_min=1e-6)
    assert np.mean(nearest(x) < 1e-2) < 0.5


# --- The adaptive default (issue 13) -----------------------------------------------------


def reference_in_s(proc, x0, c, t_min=1e-6, tol=1e-12, t_start=None):
    """DOP853 on the flattened batch in s (memreg.closed_form.reference): an independent
    fine reference (no exponential integrator, no per-sample steps, numpy denoiser)."""
    return dop853_in_s(x0, TRAIN, proc, c, t_min=t_min, tol=tol, t_start=t_start)


@pytest.mark.parametrize(
    "name, c, bound",
    [("ve_talk", 0.0, 2e-9), ("ve_talk", 1e-4, 2e-5), ("ve", 1e-2, 2e-4), ("vp", 1e-3, 1e-4)],
)
def test_adaptive_default_matches_fine_reference(name, c, bound):
    """sample_ode with no options against DOP853 at 1e-12 in s, 300 samples to t = 1e-6.
    Measured max errors (ve_talk c = 0 / c = 1e-4, ve c = 1e-2, vp c = 1e-3): 6.5e-10,
    6.2e-6, 5.2e-5, 2.2e-5 (p99: 3.3e-10, 3.3e-6, 1.2e-5, 1.0e-5, 15-40x below the fixed
    400-step grid's); the reference moves by < 2e-9 from tolerance 1e-10 to 1e-12.
    vp with c > 0 places its stages by Newton's method on Lambda."""
    proc = make_process(name)
    score = EmpiricalScore(TRAIN, c=c, process=proc)
    x0 = initial_noise(300, 2, seed=5, process=proc).numpy()
    got = sample_ode(score, x_init=x0)
    ref = reference_in_s(proc, x0, c)
    err = np.linalg.norm(got - ref, axis=1)
    assert err.max() < bound, (np.median(err), err.max())
    # Not vacuous: the samples moved, and the fixed 400-step grid is less accurate.
    assert np.abs(ref - x0).max(axis=1).min() > 1e-2
    fixed = np.linalg.norm(sample_ode(score, x_init=x0, n_steps=400) - ref, axis=1)
    assert np.percentile(err, 99) < np.percentile(fixed, 99)


def test_adaptive_tolerance_controls_the_error():
    proc = make_process("ve_talk")
    score = EmpiricalScore(TRAIN, c=1e-4, process=proc)
    x0 = initial_noise(200, 2, seed=6, process=proc).numpy()
    ref = reference_in_s(proc, x0, 1e-4)
    errs = [
        np.median(np.linalg.norm(sample_ode(score, x_init=x0, rtol=tol, atol=tol) - ref, axis=1))
        for tol in (1e-3, 1e-5, 1e-7)
    ]
    assert errs[0] > 10 * errs[1] > 100 * errs[2], errs


def test_adaptive_learned_score_without_denoiser():
    """A plain callable (as a learned score is) of Gaussian data N(0, I) under ve_talk:
    s = -x / (1 + sigma^2), whose flow is x(t) = x(T) sqrt((1 + t^2) / (1 + T^2)) exactly;
    and a callable wrapping the empirical score against the score itself."""

    def gaussian(x, t):
        t = torch.as_tensor(t, dtype=x.dtype).reshape(-1, 1)
        return -x / (1.0 + t * t)

    x0 = initial_noise(50, 3, seed=7, process=make_process("ve_talk")).numpy()
    got = sample_ode(gaussian, x_init=x0, process="ve_talk", t_min=1e-3)
    exact = x0 * np.sqrt((1 + 1e-6) / 2.0)
    np.testing.assert_allclose(got, exact, rtol=5e-5, atol=0)  # measured 8.6e-6
    tight = sample_ode(gaussian, x_init=x0, process="ve_talk", t_min=1e-3, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(tight, exact, rtol=1e-8, atol=0)
    emp = EmpiricalScore(TRAIN, c=1e-3, process="vp")
    plain = lambda x, t: emp(x, t)  # noqa: E731  (no .denoiser, no .c)
    plain.c = 1e-3
    x0 = initial_noise(40, 2, seed=8, process=emp.process).numpy()
    a = sample_ode(emp, x_init=x0)
    b = sample_ode(plain, x_init=x0, process="vp")
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-7)


def test_adaptive_keeps_the_callers_threads():
    n = torch.get_num_threads()
    sample_ode(EmpiricalScore(TRAIN), n=10)
    assert torch.get_num_threads() == n


@pytest.mark.parametrize("n", [-1, 0, 2.5, "3", True])
def test_sample_count_refused(n):
    score = EmpiricalScore(TRAIN)
    for sampler in (sample_ode, sample_sde):
        with pytest.raises(ValueError, match="n must be a positive integer.*" + re.escape(repr(n))):
            sampler(score, n=n)


@pytest.mark.parametrize("shape", [(5,), (5, 3), (1, 5, 2)])
def test_x_init_shape_refused(shape):
    with pytest.raises(ValueError, match=r"x_init must have shape \(n, 2\)"):
        sample_ode(EmpiricalScore(TRAIN), x_init=np.zeros(shape))
    with pytest.raises(ValueError, match=r"x_init must have shape \(3, 2\)"):
        sample_ode(EmpiricalScore(TRAIN), n=3, x_init=np.zeros((4, 2)))


def test_adaptive_options_refused():
    score = EmpiricalScore(TRAIN)
    with pytest.raises(ValueError, match="fixed grid"):
        sample_ode(score, n=3, return_trajectory=True)
    for bad in (dict(rtol=0.0), dict(atol=-1.0), dict(rtol=float("nan")), dict(order=1)):
        with pytest.raises(ValueError):
            sample_ode(score, n=3, **bad)
    with pytest.raises(ValueError, match="n_steps"):
        sample_ode(score, n=3, n_steps=2.5)


@pytest.mark.parametrize("name, c", [("ve_talk", 0.0), ("ve_talk", 1e-4), ("vp", 0.0)])
def test_lock_jump_agrees_with_integration(name, c, monkeypatch):
    """The lock test only removes work: the empirical score (locked samples jump to their
    end) and the same score behind a plain callable (no lock test, integrated to the end)
    agree to the tolerance; and most samples do lock before t_min."""
    proc = make_process(name)
    score = EmpiricalScore(TRAIN, c=c, process=proc)
    plain = lambda x, t: score(x, t)  # noqa: E731  (no .denoiser: no lock test)
    plain.c = c
    x0 = initial_noise(100, 2, seed=9, process=proc).numpy()
    a = sample_ode(score, x_init=x0, rtol=1e-9, atol=1e-9)
    b = sample_ode(plain, x_init=x0, process=name, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-7)
    locked = []
    first, second, _ = score.nearest_two(torch.as_tensor(x0 / float(proc.alpha(proc.T))))
    assert (second - first).min() < 1.0  # the starts are not locked already
    real = lock.locked

    def spy(*args):
        out = real(*args)
        locked.append(int(out.sum()))
        return out

    monkeypatch.setattr(lock, "locked", spy)
    sample_ode(score, x_init=x0)
    assert sum(locked) >= 50, locked


@pytest.mark.parametrize("c", [0.0, 1e-4])
def test_lock_jump_within_a_thousandth_of_atol(c):
    """A sample that just passes the lock test at the default atol (K = lock.lock_margin) jumps
    to within LOCK_ERROR atol of its end integrated from there by DOP853 at 1e-12, the
    weights of all training points included."""
    proc = make_process("ve_talk")  # alpha = 1: y = x, sigma_hat = sigma
    score = EmpiricalScore(TRAIN, c=c, process=proc)
    atol = sampling.DEFAULT_ATOL
    k = lock.lock_margin(SamplerScore.of(score), atol)
    neighbour_sq = lock.neighbour_sq(SamplerScore.of(score)).numpy()
    s_end = float(proc.s_of_t(1e-6))
    worst = 0.0
    for n, frac in ((0, 0.3), (5, 0.4), (11, 0.2)):
        others = np.delete(np.arange(len(TRAIN)), n)
        m = others[np.argmin(np.linalg.norm(TRAIN[others] - TRAIN[n], axis=1))]
        y = TRAIN[n] + frac * (TRAIN[m] - TRAIN[n])  # towards its nearest neighbour
        d1, d2, near = (v.numpy() for v in score.nearest_two(torch.as_tensor(y[None])))
        assert near[0] == n
        gap = min(d2[0] ** 2 - d1[0] ** 2, neighbour_sq[n])
        sigma_hat2 = 0.999 * gap / (2.0 * k)  # locks, barely
        s0 = -0.5 * np.log(sigma_hat2)
        assert lock.locked(
            torch.as_tensor(d1**2),
            torch.as_tensor(d2**2),
            torch.as_tensor(near),
            torch.tensor([sigma_hat2]),
            k,
            torch.as_tensor(neighbour_sq),
        ).all()
        t0 = float(proc.t_of_s(s0))
        ref = reference_in_s(proc, y[None], c, t_min=1e-6, tol=1e-13, t_start=t0)[0]
        jump = lock.jump(
            proc,
            c,
            torch.as_tensor(y[None]),
            torch.tensor([s0]),
            torch.tensor([sigma_hat2]),
            s_end,
            torch.as_tensor(TRAIN[n][None]),
        )[0].numpy()
        worst = max(worst, np.abs(jump - ref).max())
    assert worst <= lock.LOCK_ERROR * atol


def test_lock_bound_holds_along_the_segment_to_the_nearest():
    """The lock test's bound: for any y with nearest training point x_n, every other x_m
    keeps |p - x_m|^2 - |p - x_n|^2 >= min(d_2^2 - d_1^2, r_n^2) at every p on the segment
    from y to x_n (r_n from ``lock.neighbour_sq``); and the bound is attained (not loose by
    orders of magnitude). Random queries near and far from the data, and at the data."""
    score = EmpiricalScore(TRAIN)
    neighbour_sq = lock.neighbour_sq(SamplerScore.of(score)).numpy()
    rng = np.random.default_rng(21)
    y = np.concatenate([rng.standard_normal((300, 2)) * s for s in (0.1, 1.0, 10.0)])
    y = np.concatenate([y, TRAIN])
    first, second, nearest = (v.numpy() for v in score.nearest_two(torch.as_tensor(y)))
    bound = np.minimum(second**2 - first**2, neighbour_sq[nearest])
    frac = np.linspace(0.0, 1.0, 41)[:, None, None]
    path = y[None] + frac * (TRAIN[nearest] - y)[None]  # (41, B, 2)
    sq = ((path[:, :, None, :] - TRAIN[None, None]) ** 2).sum(-1)  # (41, B, N)
    gap = sq - np.take_along_axis(sq, np.broadcast_to(nearest[None, :, None], (41, len(y), 1)), 2)
    gap[:, np.arange(len(y)), nearest] = np.inf
    lowest = gap.min(axis=(0, 2))
    assert np.all(lowest >= bound - 1e-12 * (1 + np.abs(bound)))
    assert np.median(lowest / np.maximum(bound, 1e-300)) < 10.0
    assert torch.isinf(lock.neighbour_sq(SamplerScore.of(EmpiricalScore(TRAIN[:1])))).all()


def test_denoiser_and_nearest_agree_with_their_parts():
    """scaled_denoiser_and_nearest = (scaled_denoiser, nearest_two squared), read off the
    logits in one block and by chunks alike, at large and small sigma_hat."""
    rng = np.random.default_rng(5)
    y = torch.as_tensor(rng.standard_normal((37, 2)))
    for chunk_bytes in (2**22, 64):
        score = EmpiricalScore(TRAIN, chunk_bytes=chunk_bytes)
        for sh2 in (1.0, 1e-6):
            sigma_hat2 = torch.full((37, 1), sh2, dtype=torch.float64)
            mean, d1_sq, d2_sq, n = score.scaled_denoiser_and_nearest(y, sigma_hat2)
            first, second, nearest = score.nearest_two(y)
            np.testing.assert_allclose(mean, score.scaled_denoiser(y, sigma_hat2), rtol=1e-14)
            np.testing.assert_allclose(d1_sq, first**2, rtol=1e-14)
            np.testing.assert_allclose(d2_sq, second**2, rtol=1e-14)
            assert torch.equal(n, nearest)
    one = EmpiricalScore(TRAIN[:1])
    _, _, d2_sq, n = one.scaled_denoiser_and_nearest(y, torch.ones((37, 1), dtype=torch.float64))
    assert torch.isinf(d2_sq).all() and (n == 0).all()


def test_lock_margin_from_the_tolerance():
    """K = log((N - 1) R / (LOCK_ERROR atol)), R = 2 max |x_n - mean|: the neglected weights
    move a locked sample's end by at most LOCK_ERROR atol; 0 for one point or coincident
    points; None for scores without the lock test."""
    score = EmpiricalScore(TRAIN)
    spread = 2.0 * np.linalg.norm(TRAIN - TRAIN.mean(0), axis=1).max()
    for atol in (3e-6, 1e-10):
        want = np.log((len(TRAIN) - 1) * spread / (lock.LOCK_ERROR * atol))
        assert lock.lock_margin(SamplerScore.of(score), atol) == pytest.approx(want, rel=1e-12)
    assert lock.lock_margin(SamplerScore.of(EmpiricalScore(TRAIN[:1])), 3e-6) == 0.0
    assert lock.lock_margin(SamplerScore.of(EmpiricalScore(np.ones((4, 2)))), 3e-6) == 0.0
    assert lock.lock_margin(SamplerScore.of(EmpiricalScore(TRAIN, tau=0.1)), 3e-6) is None
    assert lock.lock_margin(SamplerScore.of(lambda x, t: x, process="ve"), 3e-6) is None


def test_sampling_leaves_the_score_differentiable():
    """The samplers run an EmpiricalScore in inference mode; its lazily cached |x_n|^2
    ("expansion" form) stays a normal tensor, so the score still runs under autograd."""
    rng = np.random.default_rng(3)
    score = EmpiricalScore(rng.standard_normal((30, 20)), form="expansion")
    sample_ode(score, n=4, n_steps=5)
    sample_ode(score, n=4)
    assert not score._norms.is_inference()
    x = torch.as_tensor(rng.standard_normal((3, 20)), dtype=torch.float64).requires_grad_()
    score(x, 0.5).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("n_steps", [2.5, True, 0, "10"])
def test_sde_step_count_refused(n_steps):
    """sample_sde refuses a step count that is not a positive integer (bool and float too),
    naming the argument, as sample_ode does."""
    score = EmpiricalScore(TRAIN)
    with pytest.raises(ValueError, match="n_steps must be a positive integer"):
        sample_sde(score, n=3, n_steps=n_steps)
    with pytest.raises(ValueError, match="n_steps must be a positive integer"):
        sample_ode(score, n=3, n_steps=n_steps)


def gaussian_data_score(proc, mean, var):
    """The score of data N(mean, var I) under ``proc``: s = -(x - alpha mean) / S^2,
    S^2 = alpha^2 var + sigma^2, defined at t = 0 for var > 0; one time per row."""

    def score(x, t):
        t = torch.as_tensor(t, dtype=x.dtype).reshape(-1, 1)
        a = proc.alpha(t)
        return -(x - a * mean) / (a * a * var + proc.sigma2(t))

    score.process = proc
    return score


def gaussian_flow(proc, mean, var, x_start, t_start, t):
    """Its probability flow, exactly: x(t) = alpha(t) mean + (S(t) / S(t_start))
    (x(t_start) - alpha(t_start) mean), an affine map (S' / S = f + g2 / (2 S^2))."""
    S = lambda u: np.sqrt(proc.alpha(u) ** 2 * var + proc.sigma2(u))  # noqa: E731
    t = np.asarray(t, dtype=np.float64).reshape(-1, 1)
    a0 = float(proc.alpha(t_start))
    return proc.alpha(t) * mean + S(t) / S(t_start) * (x_start - a0 * mean)


def test_heun_in_t_reaches_the_exact_end_of_a_gaussian_flow():
    """Data N(m, 0.01 I) under ve from t = 0.01, where the flow still contracts x - m by
    sqrt(0.01 / (0.01 + sigma(0.01)^2)) ~ 0.7 on the way to t = 0: rows ending at 0, at
    0.005 and at the start against the exact flow; second order in the step."""
    proc, t_start, var = make_process("ve"), 1e-2, 1e-2
    mean = np.array([0.5, -1.0])
    score = gaussian_data_score(proc, torch.as_tensor(mean), var)
    x = initial_noise(30, 2, seed=4, process=proc).numpy() * 0.2 + mean
    ends = np.repeat([0.0, t_start / 2, t_start], 10)
    exact = gaussian_flow(proc, mean, var, x, t_start, ends)
    assert np.abs(exact[:10] - x[:10]).max() > 0.1  # stopping at t_start would fail
    errors = []
    for n in (4, 8):
        got = heun_in_t(score, x, t_start, torch.as_tensor(ends), n)
        np.testing.assert_array_equal(got[20:], x[20:])  # ending where they start: unmoved
        errors.append(np.abs(got - exact).max())
    assert errors[1] < 1e-3, errors  # measured 4.7e-4, of a displacement > 0.1
    assert 3.5 < errors[0] / errors[1] < 4.5, errors  # Heun: second order


def test_heun_in_t_refuses_ends_outside_its_interval():
    score = gaussian_data_score(make_process("vp"), torch.zeros(2), 1.0)
    x = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"every end must lie in \[0, t_start = 0.1\]"):
        heun_in_t(score, x, 0.1, torch.tensor([0.0, 0.2]), 4)
    with pytest.raises(ValueError, match="n_steps must be a positive integer"):
        heun_in_t(score, x, 0.1, 0.0, 0)
