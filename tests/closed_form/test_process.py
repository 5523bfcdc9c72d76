"""Forward processes: sigma^2 and alpha against their defining ODEs and integrals,
the inverse of sigma_hat down to tiny t, and float / numpy / torch inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad

from memreg.closed_form.process import PROCESSES, make_process

NAMES = ["ve_talk", "ve", "vp"]
T_POINTS = [0.05, 0.2, 0.5, 0.8, 0.97]


@pytest.fixture(params=NAMES)
def proc(request):
    return make_process(request.param)


def fl(v) -> float:
    return float(np.asarray(v))


def test_registry_has_the_three_processes():
    assert set(PROCESSES) == set(NAMES)
    for name in NAMES:
        p = make_process(name)
        assert p.name == name
        assert p.T == 1.0
        assert make_process(p) is p


def test_unknown_process_lists_allowed_names():
    with pytest.raises(ValueError) as err:
        make_process("vee")
    msg = str(err.value)
    assert "vee" in msg
    for name in NAMES:
        assert repr(name) in msg


def test_variance_ode_by_finite_differences(proc):
    # (sigma^2)' = 2 f sigma^2 + g2, central differences with step h (error ~ h^2).
    h = 1e-5
    for t in T_POINTS:
        deriv = (fl(proc.sigma2(t + h)) - fl(proc.sigma2(t - h))) / (2 * h)
        rhs = 2 * fl(proc.f(t)) * fl(proc.sigma2(t)) + fl(proc.g2(t))
        assert deriv == pytest.approx(rhs, rel=1e-8), t


def test_mean_factor_ode_by_finite_differences(proc):
    # alpha' / alpha = f, i.e. (log alpha)' = f.
    h = 1e-5
    for t in T_POINTS:
        deriv = (math.log(fl(proc.alpha(t + h))) - math.log(fl(proc.alpha(t - h)))) / (2 * h)
        assert deriv == pytest.approx(fl(proc.f(t)), rel=1e-8, abs=1e-10), t


def test_sigma2_and_alpha_match_their_integrals(proc):
    # alpha(t) = exp(int_0^t f),  sigma^2(t) = alpha(t)^2 int_0^t g2(r) / alpha(r)^2 dr.
    for t in T_POINTS:
        int_f = quad(lambda r: fl(proc.f(r)), 0.0, t, epsabs=1e-14, epsrel=1e-13)[0]
        assert fl(proc.alpha(t)) == pytest.approx(math.exp(int_f), rel=1e-12)

        def integrand(r, t=t):
            log_ratio = quad(lambda u: fl(proc.f(u)), r, t, epsabs=1e-14, epsrel=1e-13)[0]
            return math.exp(2.0 * log_ratio) * fl(proc.g2(r))

        s2 = quad(integrand, 0.0, t, epsabs=1e-14, epsrel=1e-12)[0]
        assert fl(proc.sigma2(t)) == pytest.approx(s2, rel=1e-10), t


def test_sigma2_vanishes_at_zero_and_is_increasing(proc):
    assert fl(proc.sigma2(0.0)) == 0.0
    assert fl(proc.alpha(0.0)) == 1.0
    t = np.linspace(1e-6, 1.0, 200)
    assert np.all(np.diff(proc.sigma_hat(t)) > 0)


def test_ve_terminal_noise_level():
    ve = make_process("ve")
    expected = math.sqrt((10.0**2 - 1.0) / (2.0 * math.log(10.0)))
    assert fl(ve.sigma(1.0)) == pytest.approx(expected, rel=1e-14)
    assert fl(ve.sigma(1.0)) == pytest.approx(4.64, abs=5e-3)


def test_talk_process_is_sigma_equals_t():
    p = make_process("ve_talk")
    t = np.array([1e-9, 0.3, 1.0])
    np.testing.assert_array_equal(p.sigma(t), t)
    np.testing.assert_array_equal(p.s_of_t(t), -np.log(t))


def test_vp_is_variance_preserving():
    p = make_process("vp")
    t = np.linspace(0.0, 1.0, 11)
    np.testing.assert_allclose(p.alpha(t) ** 2 + p.sigma2(t), 1.0, rtol=0, atol=1e-15)
    # beta(t) = 0.001 + t (3 - 0.001) and f = -beta / 2.
    np.testing.assert_allclose(p.g2(t), 0.001 + t * (3.0 - 0.001), rtol=1e-15)
    np.testing.assert_allclose(p.f(t), -0.5 * (0.001 + t * (3.0 - 0.001)), rtol=1e-15)


def test_t_of_sigma_hat_inverts_sigma_hat(proc):
    t = np.concatenate([[1e-12, 1e-10], np.logspace(-8, 0, 33), [1.5]])
    back = proc.t_of_sigma_hat(proc.sigma_hat(t))
    np.testing.assert_allclose(back, t, rtol=1e-12, atol=0)
    sh = np.logspace(-40, 1, 42)
    np.testing.assert_allclose(proc.sigma_hat(proc.t_of_sigma_hat(sh)), sh, rtol=1e-12, atol=0)


def test_t_of_s_round_trip_up_to_s_100(proc):
    s = np.concatenate([np.linspace(-1.5, 20.0, 44), [50.0, 99.0, 100.0]])
    t = proc.t_of_s(s)
    assert np.all(np.isfinite(t)) and np.all(t > 0)
    assert np.all(np.diff(t) < 0)
    np.testing.assert_allclose(proc.s_of_t(t), s, rtol=1e-12, atol=1e-12)
    t100 = fl(proc.t_of_s(100.0))
    assert 0.0 < t100 < 1e-40 and math.isfinite(t100)
    assert fl(proc.s_of_t(t100)) == pytest.approx(100.0, rel=1e-12)


@pytest.mark.parametrize(
    "method", ["alpha", "sigma2", "sigma", "f", "g2", "sigma_hat", "s_of_t", "t_of_s"]
)
def test_float_numpy_and_torch_inputs_agree(proc, method):
    fn = getattr(proc, method)
    values = [0.01, 0.3, 0.9]
    from_floats = np.array([fl(fn(v)) for v in values])
    from_numpy = fn(np.array(values))
    assert isinstance(from_numpy, np.ndarray) and from_numpy.shape == (3,)
    from_torch = fn(torch.tensor(values, dtype=torch.float64))
    assert isinstance(from_torch, torch.Tensor)
    assert from_torch.dtype == torch.float64 and from_torch.shape == (3,)
    np.testing.assert_allclose(from_numpy, from_floats, rtol=1e-15)
    np.testing.assert_allclose(from_torch.numpy(), from_floats, rtol=1e-14)
    assert not isinstance(fn(0.3), torch.Tensor)


def test_t_of_sigma_hat_accepts_torch(proc):
    sh = torch.tensor([1e-6, 0.1, 2.0], dtype=torch.float64)
    t = proc.t_of_sigma_hat(sh)
    assert isinstance(t, torch.Tensor)
    np.testing.assert_allclose(proc.sigma_hat(t).numpy(), sh.numpy(), rtol=1e-12)


def test_parameters_are_pluggable():
    p = make_process("ve", base=25.0)
    t = 0.7
    expected = (25.0 ** (2 * t) - 1.0) / (2.0 * math.log(25.0))
    assert fl(p.sigma2(t)) == pytest.approx(expected, rel=1e-13)
    q = make_process("vp", beta_min=0.1, beta_max=20.0)
    assert fl(q.alpha(1.0)) == pytest.approx(math.exp(-0.5 * (0.1 + 0.5 * 19.9)), rel=1e-14)
