"""The closed-form empirical score against independent numpy references: the gradient of
the log-density of the Gaussian mixture, naive direct-difference formulas, the small-t
limit, chunking, the Tikhonov bound, the conditional score and input validation."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from scipy.special import logsumexp, softmax

from memreg.closed_form import score as score_module
from memreg.closed_form.process import make_process
from memreg.closed_form.score import EmpiricalScore, conditional_score, make_score
from memreg.data import authors_points

NAMES = ["ve_talk", "ve", "vp"]


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """Many tiny torch calls (e.g. 500 chunks of one point): keep them off the intra-op pool,
    whose spin-waiting makes each call cost milliseconds on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(params=NAMES)
def name(request):
    return request.param


def coeffs(proc, t):
    """alpha(t), sigma^2(t) as floats, evaluated the way the score evaluates them (torch)."""
    tt = torch.tensor(t, dtype=torch.float64)
    return float(proc.alpha(tt)), float(proc.sigma2(tt))


def naive_weights(x, train, alpha, sigma2):
    """w_n = softmax(-|x - alpha x_n|^2 / (2 sigma^2)) from direct differences (numpy)."""
    diff = x[:, None, :] - alpha * train[None, :, :]
    return softmax(-np.sum(diff**2, axis=-1) / (2.0 * sigma2), axis=1)


def log_mixture(x, train, alpha, sigma2):
    """log p(x, t) for p = (1/N) sum_n N(x; alpha x_n, sigma^2 I), one point x."""
    d = train.shape[1]
    sq = np.sum((x[None, :] - alpha * train) ** 2, axis=1)
    return (
        logsumexp(-sq / (2.0 * sigma2))
        - np.log(len(train))
        - 0.5 * d * np.log(2.0 * np.pi * sigma2)
    )


def test_score_is_gradient_of_log_mixture_density(name):
    proc = make_process(name)
    rng = np.random.default_rng(0)
    train = rng.standard_normal((7, 3))
    score = EmpiricalScore(train, process=proc)
    x = 1.5 * rng.standard_normal((4, 3))
    for t in [0.25, 0.5, 1.0]:
        alpha, sigma2 = coeffs(proc, t)
        got = score(x, t).numpy()
        h = 1e-5
        fd = np.zeros_like(x)
        for b in range(len(x)):
            for k in range(3):
                e = np.zeros(3)
                e[k] = h
                up = log_mixture(x[b] + e, train, alpha, sigma2)
                down = log_mixture(x[b] - e, train, alpha, sigma2)
                fd[b, k] = (up - down) / (2 * h)
        scale = np.abs(fd).max()
        np.testing.assert_allclose(got, fd, rtol=0, atol=1e-7 * scale, err_msg=f"{name} t={t}")


@pytest.mark.parametrize("c", [1e-3, 1e-2, 0.5])
def test_tikhonov_score_naive_formula(name, c):
    proc = make_process(name)
    rng = np.random.default_rng(1)
    train = rng.standard_normal((9, 2))
    x = 2.0 * rng.standard_normal((6, 2))
    score = EmpiricalScore(train, c=c, process=proc)
    for t in [1e-4, 0.05, 0.4, 1.0]:
        alpha, sigma2 = coeffs(proc, t)
        w = score.weights(x, t).numpy()
        # From the library's weights, by a direct loop ...
        expected = np.zeros_like(x)
        for b in range(len(x)):
            mean = sum(w[b, n] * train[n] for n in range(len(train)))
            expected[b] = (alpha * mean - x[b]) / (sigma2 + c)
        np.testing.assert_allclose(score(x, t).numpy(), expected, rtol=1e-12, atol=1e-12)
        # ... and with weights computed independently.
        w_ref = naive_weights(x, train, alpha, sigma2)
        np.testing.assert_allclose(w, w_ref, rtol=1e-10, atol=1e-13)
        ref = (alpha * w_ref @ train - x) / (sigma2 + c)
        np.testing.assert_allclose(score(x, t).numpy(), ref, rtol=1e-10, atol=1e-10)


def test_per_row_times(name):
    proc = make_process(name)
    rng = np.random.default_rng(2)
    train = rng.standard_normal((5, 2))
    score = EmpiricalScore(train, c=1e-3, process=proc)
    x = rng.standard_normal((4, 2))
    t = np.array([1e-3, 0.1, 0.5, 1.0])
    batched = score(x, torch.tensor(t)).numpy()
    rows = np.concatenate([score(x[b : b + 1], float(t[b])).numpy() for b in range(4)])
    np.testing.assert_allclose(batched, rows, rtol=1e-14, atol=0)
    w = score.weights(x, torch.tensor(t)).numpy()
    for b in range(4):
        alpha, sigma2 = coeffs(proc, float(t[b]))
        np.testing.assert_allclose(
            w[b], naive_weights(x[b : b + 1], train, alpha, sigma2)[0], rtol=1e-10, atol=1e-14
        )


@pytest.mark.parametrize("scale", [1.0, 1e3])
@pytest.mark.parametrize("t", [1e-8, 1e-4, 1.0])
def test_weights_are_a_probability_vector(name, scale, t):
    train = scale * authors_points()
    rng = np.random.default_rng(3)
    x = np.concatenate([train[:3], scale * 2.0 * rng.standard_normal((5, 2))])
    score = EmpiricalScore(train, process=name)
    w = score.weights(x, t).numpy()
    assert w.shape == (8, 20)
    assert np.all(np.isfinite(w)) and np.all(w >= 0)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    for out in (score(x, t), score.denoiser(x, t)):
        assert torch.isfinite(out).all()
    # The denoiser is a convex combination of the training points.
    d = score.denoiser(x, t).numpy()
    assert np.all(d.min(axis=0) >= train.min(axis=0) - 1e-9 * scale)
    assert np.all(d.max(axis=0) <= train.max(axis=0) + 1e-9 * scale)


def test_denoiser_at_tiny_t_matches_naive_reference(name):
    """The mandatory small-t check (t = 1e-8): direct differences and scipy softmax."""
    proc = make_process(name)
    t = 1e-8
    alpha, sigma2 = coeffs(proc, t)
    sigma = np.sqrt(sigma2)
    base = authors_points()
    # A near-duplicate pair, sigma apart, so that the weights between them are not one-hot:
    # |x|^2 + |y|^2 - 2 x.y would lose them to cancellation; direct differences do not.
    u = np.array([0.6, 0.8])
    train = np.concatenate([base, base[:1] + sigma * u])
    perp = np.array([-0.8, 0.6])
    queries = [base[:4], train[-1:]]
    for a in [-1.0, 0.0, 0.3, 0.5, 0.9, 2.0]:
        for b in [0.0, 0.7]:
            queries.append((alpha * (base[0] + sigma * (a * u + b * perp)))[None])
    # Points near bisectors of well-separated pairs, offset by multiples of sigma^2.
    for i, j in [(1, 2), (3, 7), (5, 11)]:
        mid = 0.5 * alpha * (base[i] + base[j])
        n = (base[j] - base[i]) / np.linalg.norm(base[j] - base[i])
        for k in [-2.0, 0.0, 0.5, 3.0]:
            queries.append((mid + k * sigma2 * n)[None])
    queries.append(3.0 * np.random.default_rng(4).standard_normal((6, 2)))
    x = np.concatenate(queries)

    w_ref = naive_weights(x, train, alpha, sigma2)
    d_ref = w_ref @ train
    score = EmpiricalScore(train, process=proc)
    w = score.weights(x, t).numpy()
    np.testing.assert_allclose(w, w_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(score.denoiser(x, t).numpy(), d_ref, rtol=0, atol=1e-12)
    # Non-trivial weights did occur between the near-duplicate pair.
    pair = w_ref[:, [0, len(train) - 1]]
    assert np.any(pair.min(axis=1) > 0.05)
    # Score: the same denoiser through (alpha D - x) / sigma^2.
    s_ref = (alpha * d_ref - x) / sigma2
    got = score(x, t).numpy()
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, s_ref, rtol=1e-6, atol=1e-12 / sigma2)


@pytest.mark.parametrize("chunk_bytes", [64, 280 * 37])
def test_chunked_and_unchunked_agree(chunk_bytes):
    # B = 7 rows of d = 5 float64: 280 bytes per training point, so chunk_bytes = 64 means
    # 500 chunks of one point and 280 * 37 means 13 full chunks and a remainder of 19.
    rng = np.random.default_rng(5)
    train = rng.standard_normal((500, 5))
    x = 1.2 * rng.standard_normal((7, 5))
    names = NAMES if chunk_bytes > 64 else ["vp"]
    for name in names:
        one = EmpiricalScore(train, c=1e-3, process=name)
        many = EmpiricalScore(train, c=1e-3, process=name, chunk_bytes=chunk_bytes)
        for t in [1e-3, 0.3]:
            np.testing.assert_allclose(
                many.denoiser(x, t).numpy(), one.denoiser(x, t).numpy(), rtol=0, atol=1e-12
            )
            s_one = one(x, t).numpy()
            scale = np.abs(s_one).max()
            np.testing.assert_allclose(many(x, t).numpy(), s_one, rtol=0, atol=1e-12 * scale)
            # Against an independent reference too (not only self-consistency).
            alpha, sigma2 = coeffs(make_process(name), t)
            ref = naive_weights(x, train, alpha, sigma2) @ train
            np.testing.assert_allclose(many.denoiser(x, t).numpy(), ref, rtol=0, atol=1e-12)


def test_regularized_score_bounded_as_t_to_0(name):
    proc = make_process(name)
    train = authors_points()
    x_star = np.array([[3.0, 2.5]])
    dists = np.linalg.norm(train - x_star, axis=1)
    nearest = train[np.argmin(dists)]
    ts = np.logspace(0, -8, 17)
    for c in [1e-1, 1e-2, 1e-3]:
        reg = EmpiricalScore(train, c=c, process=proc)
        norms = np.array([np.linalg.norm(reg(x_star, t).numpy()) for t in ts])
        for t, nrm in zip(ts, norms):
            alpha, sigma2 = coeffs(proc, t)
            bound = np.max(np.linalg.norm(alpha * train - x_star, axis=1)) / (sigma2 + c)
            assert nrm <= bound * (1 + 1e-12), (c, t)
        assert norms.max() <= dists.max() / c * (1 + 1e-12)
        # The limit s_c -> (x_nearest - x*) / c.
        np.testing.assert_allclose(
            reg(x_star, 1e-8).numpy()[0], (nearest - x_star[0]) / c, rtol=1e-5
        )
    plain = EmpiricalScore(train, process=proc)
    norms = np.array([np.linalg.norm(plain(x_star, t).numpy()) for t in ts])
    sig2 = np.array([coeffs(proc, t)[1] for t in ts])
    # Unregularized: |s| sigma^2 -> |x* - x_nearest|, i.e. |s| grows like 1/sigma^2.
    np.testing.assert_allclose(norms[-4:] * sig2[-4:], dists.min(), rtol=1e-4)
    assert np.all(np.diff(norms[4:]) > 0)
    assert norms[-1] > 1e4 * dists.max() / 1e-3


def test_conditional_score_is_the_score_of_the_labelled_subset(name):
    rng = np.random.default_rng(6)
    train = rng.standard_normal((12, 2))
    labels = np.array([0, 1, 2, 1, 0, 1, 2, 2, 1, 0, 1, 1])
    x = rng.standard_normal((5, 2))
    for y in [0, 1, 2]:
        cond = conditional_score(train, labels, y, process=name, c=1e-3)
        sub = EmpiricalScore(train[labels == y], process=name, c=1e-3)
        assert cond.train.shape == (int(np.sum(labels == y)), 2)
        np.testing.assert_array_equal(cond.train.numpy(), train[labels == y])
        for t in [1e-3, 0.3]:
            np.testing.assert_allclose(cond(x, t).numpy(), sub(x, t).numpy(), rtol=1e-14)
            alpha, sigma2 = coeffs(make_process(name), t)
            sel = train[labels == y]
            ref = (alpha * naive_weights(x, sel, alpha, sigma2) @ sel - x) / (sigma2 + 1e-3)
            np.testing.assert_allclose(cond(x, t).numpy(), ref, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="label"):
        conditional_score(train, labels, 7, process=name)


def test_conditional_score_vector_labels():
    train = np.arange(12.0).reshape(6, 2)
    onehot = np.eye(3)[[0, 1, 2, 0, 1, 0]]
    cond = conditional_score(train, onehot, [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(cond.train.numpy(), train[[0, 3, 5]])
    with pytest.raises(ValueError):
        conditional_score(train, onehot, [0.0, 0.0, 0.0])


@pytest.mark.parametrize("c", [-1e-3, -1.0, float("nan")])
def test_negative_c_refused(c):
    with pytest.raises(ValueError):
        EmpiricalScore(authors_points(), c=c)


@pytest.mark.parametrize(
    "train", [np.zeros(5), np.zeros((0, 2)), np.zeros((2, 3, 4)), np.float64(1.0)]
)
def test_bad_training_shapes_refused(train):
    with pytest.raises(ValueError):
        EmpiricalScore(train)


def test_unknown_process_refused():
    with pytest.raises(ValueError, match="allowed"):
        EmpiricalScore(authors_points(), process="subvp")


def test_consistency_score_naive_formula(name):
    """tau > 0: w_n = phi_n / max(sum phi, tau), s = (alpha sum w_n x_n - sum w_n x) / sigma^2."""
    proc = make_process(name)
    rng = np.random.default_rng(8)
    train = rng.standard_normal((6, 2))
    x = np.concatenate([train[:2] + 0.01, 2.5 * rng.standard_normal((6, 2))])
    for tau in [1e-2, 1.0]:
        score = EmpiricalScore(train, process=proc, tau=tau)
        for t in [1e-3, 0.05, 0.5]:
            alpha, sigma2 = coeffs(proc, t)
            sq = np.sum((x[:, None, :] - alpha * train[None]) ** 2, axis=-1)
            phi = np.exp(-sq / (2 * sigma2))
            w = phi / np.maximum(phi.sum(axis=1, keepdims=True), tau)
            ref = (alpha * w @ train - w.sum(axis=1, keepdims=True) * x) / sigma2
            np.testing.assert_allclose(score(x, t).numpy(), ref, rtol=1e-9, atol=1e-9)
    plain = EmpiricalScore(train, process=proc)
    zero = EmpiricalScore(train, process=proc, tau=0.0)
    np.testing.assert_array_equal(zero(x, 0.1).numpy(), plain(x, 0.1).numpy())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(name):
    rng = np.random.default_rng(9)
    train = rng.standard_normal((300, 3))
    x = rng.standard_normal((17, 3))
    cpu = EmpiricalScore(train, c=1e-3, process=name)
    gpu = EmpiricalScore(train, c=1e-3, process=name, device="cuda", chunk_bytes=4096)
    assert gpu.train.device.type == "cuda"
    for t in [1e-8, 1e-3, 0.5]:
        out = gpu(x, t)
        assert out.device.type == "cuda"
        np.testing.assert_allclose(out.cpu().numpy(), cpu(x, t).numpy(), rtol=1e-10, atol=1e-9)
        np.testing.assert_allclose(
            gpu.denoiser(x, t).cpu().numpy(), cpu.denoiser(x, t).numpy(), rtol=0, atol=1e-10
        )


# --- The expansion form (issue 13) and input validation ----------------------------------


def big_sigma_process():
    """A VE process reaching sigma = 80 inside (0, T]: base 1e4, sigma(1) ~ 2.3e3."""
    return make_process("ve", base=1e4)


def hard_queries(train, alpha, sigma, rng):
    """Noised training points, points between near-duplicate pairs (the last four training
    points sit sigma from the first four) and far points, all well conditioned: direct
    differences fix their logits to ~1e-12 (a tie between far-apart points at small sigma
    is not: its logits move by O(1) with the rounding of |x - alpha x_n|^2 itself)."""
    d = train.shape[1]
    near = alpha * train[4:10] + sigma * rng.standard_normal((6, d))
    u = (train[-4:] - train[:4]) / sigma
    pairs = alpha * (train[:4] + sigma * np.array([[0.5], [0.3], [0.9], [-0.4]]) * u)
    scale = np.abs(train).max()
    far = scale * rng.standard_normal((3, d)) / np.sqrt(d)
    return np.concatenate([near, pairs, far])


def with_duplicates(train, sigma, rng):
    """train and four near-duplicates of its first rows, sigma apart."""
    u = rng.standard_normal((4, train.shape[1]))
    u /= np.linalg.norm(u, axis=1)[:, None]
    return np.concatenate([train, train[:4] + sigma * u])


@pytest.mark.parametrize("scale", [1.0, 1e3])
@pytest.mark.parametrize("sigma", [1e-8, 1e-3, 0.3, 80.0])
def test_expansion_form_equals_direct_differences(scale, sigma):
    """|x|^2 + |y|^2 - 2 x.y with the exact recomputation against the naive numpy formula,
    N = 1003 (not a multiple of the 100-point chunks), d = 64, data norms up to 1e3;
    error relative to the data scale max |x_n| (D is a convex combination of the x_n)."""
    rng = np.random.default_rng(11)
    train = rng.standard_normal((999, 64))
    train *= scale / np.linalg.norm(train, axis=1).max()
    proc = big_sigma_process() if sigma > 1 else make_process("ve_talk")
    t = float(proc.t_of_sigma_hat(sigma))
    alpha, sigma2 = coeffs(proc, t)
    train = with_duplicates(train, np.sqrt(sigma2), rng)
    x = hard_queries(train, alpha, np.sqrt(sigma2), rng)
    chunk = 100 * len(x) * 8
    fast = EmpiricalScore(train, process=proc, form="expansion", chunk_bytes=chunk)
    direct = EmpiricalScore(train, process=proc, form="direct")
    ref = naive_weights(x, train, alpha, sigma2) @ train
    np.testing.assert_allclose(fast.denoiser(x, t).numpy(), ref, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(direct.denoiser(x, t).numpy(), ref, rtol=0, atol=1e-10 * scale)
    if sigma <= 1e-3:  # the weights between the pairs are not one-hot (not vacuous)
        w = naive_weights(x[6:10], train, alpha, sigma2)
        assert np.all(np.sort(w, axis=1)[:, -2] > 1e-3)


def test_expansion_without_recomputation_is_not_exact(monkeypatch):
    """The expansion alone (every logit used as computed) misses 1e-10 of the data scale at
    sigma = 3e-5 with d = 256 and data of norm 1e3 (measured 7e-10; 2e-10 at sigma = 1e-4):
    the recomputation is what makes the form exact."""
    rng = np.random.default_rng(12)
    sigma = 3e-5
    train = rng.standard_normal((300, 256))
    train = with_duplicates(train * 1e3 / np.linalg.norm(train, axis=1).max(), sigma, rng)
    x = hard_queries(train, 1.0, sigma, rng)
    ref = naive_weights(x, train, 1.0, sigma**2) @ train
    exact = EmpiricalScore(train, form="expansion").denoiser(x, sigma).numpy()
    assert np.abs(exact - ref).max() < 1e-10 * 1e3
    monkeypatch.setattr(score_module, "LOGIT_TOL", np.inf)
    crude = EmpiricalScore(train, form="expansion").denoiser(x, sigma).numpy()
    assert np.abs(crude - ref).max() > 1e-10 * 1e3


@pytest.mark.parametrize("rows", [1, 7, 100, 1003, 5000])
def test_expansion_chunk_boundaries(rows):
    """Chunks of 1, 7, 100, N and more training points give the same score, per-row times,
    Tikhonov c and consistency tau included (against the naive formulas)."""
    rng = np.random.default_rng(13)
    train = 30.0 * rng.standard_normal((1003, 20))
    x = np.concatenate([train[:4] + 0.01 * rng.standard_normal((4, 20)), train[4:8]])
    t = torch.tensor([1e-3, 1e-2, 0.1, 0.5, 1e-3, 1e-2, 0.1, 1.0])
    proc = make_process("vp")
    kw = dict(process=proc, form="expansion", chunk_bytes=rows * len(x) * 8)
    for c, tau in [(1e-3, 0.0), (0.0, 1e-2)]:
        score = EmpiricalScore(train, c=c, tau=tau, **kw)
        got = score(x, t).numpy()
        for b in range(len(x)):
            alpha, sigma2 = coeffs(proc, float(t[b]))
            logits = -np.sum((x[b] - alpha * train) ** 2, axis=1) / (2 * sigma2)
            w = np.exp(logits - max(logsumexp(logits), np.log(tau) if tau > 0 else -np.inf))
            ref = (alpha * w @ train - w.sum() * x[b]) / (sigma2 + c)
            np.testing.assert_allclose(got[b], ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())


def test_auto_form_by_dimension():
    rng = np.random.default_rng(14)
    assert EmpiricalScore(rng.standard_normal((5, 2))).form == "direct"
    assert EmpiricalScore(rng.standard_normal((5, 64))).form == "expansion"
    with pytest.raises(ValueError, match="form"):
        EmpiricalScore(rng.standard_normal((5, 2)), form="gemm")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_training_data_refused(bad):
    train = authors_points()
    train[3, 1] = bad
    with pytest.raises(ValueError, match="train must be finite; 1 of its 20 rows"):
        EmpiricalScore(train)
    with pytest.raises(ValueError, match="train must be finite"):
        make_score(train, kind="tikhonov", c=1e-3)


@pytest.mark.parametrize("value", ["0.1", np.inf, np.nan, -1e-3, None, True, [0.1]])
def test_bad_c_and_tau_refused(value):
    allowed = re.escape(repr(value)) + " is not allowed: a finite real number >= 0"
    with pytest.raises(ValueError, match="Tikhonov constant c = " + allowed):
        EmpiricalScore(authors_points(), c=value)
    with pytest.raises(ValueError, match="consistency threshold tau = " + allowed):
        EmpiricalScore(authors_points(), tau=value)
    with pytest.raises(ValueError, match="Tikhonov constant c"):
        make_score(authors_points(), kind="tikhonov", c=value)
    with pytest.raises(ValueError, match="consistency threshold tau"):
        make_score(authors_points(), kind="consistency", tau=value)


@pytest.mark.parametrize("t", [0.0, -1e-3, 1.5, np.nan, [0.5, 0.0, 0.2], [0.5, 2.0, 0.2]])
def test_times_outside_the_process_refused(t, name):
    score = EmpiricalScore(authors_points(), process=name)
    x = np.zeros((3, 2))
    tt = torch.tensor(t, dtype=torch.float64) if isinstance(t, list) else t
    for call in (score, score.denoiser, score.weights, score.posterior_mean):
        with pytest.raises(ValueError, match=r"t must lie in \(0, T\] = \(0, 1\]"):
            call(x, tt)
    score(x, 1.0)  # t = T itself is allowed


def test_query_shape_refused():
    score = EmpiricalScore(authors_points())
    for x in (np.zeros(2), np.zeros((3, 3)), np.zeros((2, 3, 2))):
        with pytest.raises(ValueError, match=r"x must have shape \(B, 2\)"):
            score(x, 0.5)
    with pytest.raises(ValueError, match=r"t must be a float or of shape \(3,\)"):
        score(np.zeros((3, 2)), torch.full((4,), 0.5, dtype=torch.float64))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("sigma", [1e-3, 0.3])
def test_cuda_expansion_matches_direct(sigma):
    """The same expansion code on the GPU, against direct differences on the CPU."""
    rng = np.random.default_rng(15)
    train = 1e3 * rng.standard_normal((2001, 128)) / np.sqrt(128)
    train = with_duplicates(train, sigma, rng)
    x = hard_queries(train, 1.0, sigma, rng)
    gpu = EmpiricalScore(train, device="cuda", form="expansion", chunk_bytes=len(x) * 8 * 300)
    cpu = EmpiricalScore(train, form="direct")
    got = gpu.denoiser(x, sigma)
    assert got.device.type == "cuda"
    np.testing.assert_allclose(got.cpu().numpy(), cpu.denoiser(x, sigma).numpy(), atol=1e-7)


@pytest.mark.parametrize("n_train, chunk_bytes", [(1, 4 * 2**20), (20, 4 * 2**20), (23, 600)])
def test_nearest_two_against_brute_force(n_train, chunk_bytes):
    """Distances to the nearest and second-nearest training points and the nearest's index,
    in one chunk and across chunk boundaries (23 points, chunks of a few points)."""
    rng = np.random.default_rng(3)
    train = rng.normal(size=(n_train, 3))
    y = rng.normal(size=(40, 3))
    score = EmpiricalScore(train, chunk_bytes=chunk_bytes)
    first, second, nearest = score.nearest_two(torch.as_tensor(y))
    dist = np.sqrt(((y[:, None, :] - train[None]) ** 2).sum(-1))
    order = np.sort(dist, axis=1)
    np.testing.assert_allclose(first.numpy(), order[:, 0], rtol=1e-12)
    np.testing.assert_array_equal(nearest.numpy(), dist.argmin(axis=1))
    want = order[:, 1] if n_train > 1 else np.full(len(y), np.inf)
    np.testing.assert_allclose(second.numpy(), want, rtol=1e-12)
