"""EDM preconditioning, loss and Heun sampler; the empirical denoiser memorizes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from memreg.data import scale_squares, square_images
from memreg.unet.edm import (
    EDMDenoiser,
    Preconditioning,
    edm_loss,
    empirical_denoiser,
    fixed_noise,
    heun_sample,
    memorized,
    sigma_steps,
    to_model_range,
    to_unit_range,
)

AUTHORS_SQUARES = [[6, 6, 12], [40, 40, 14]]
EIGHT = [[4, 4, 10], [4, 40, 16], [20, 20, 8], [36, 6, 14],
         [44, 44, 12], [28, 48, 6], [50, 22, 10], [12, 26, 6]]  # fmt: skip


def test_preconditioning_normalizes_input_and_target():
    pre, sigma = Preconditioning(0.5), torch.logspace(-3, 2, 50, dtype=torch.float64)
    sd, one = 0.5, torch.ones(50, dtype=torch.float64)
    # unit variance of the network input for data of std sd: c_in^2 (sd^2 + sigma^2) = 1
    assert torch.allclose(pre.c_in(sigma) ** 2 * (sd**2 + sigma**2), one)
    # the effective target has unit weight: lambda c_out^2 = 1
    assert torch.allclose(pre.loss_weight(sigma) * pre.c_out(sigma) ** 2, one)
    # D -> x as sigma -> 0, and c_skip + c_out^2 / sd^2 = 1
    assert pre.c_skip(torch.tensor(1e-6)) == pytest.approx(1.0)
    assert torch.allclose(pre.c_skip(sigma) + (pre.c_out(sigma) / sd) ** 2, one)
    assert torch.allclose(pre.c_noise(sigma), sigma.log() / 4)


class Constant(torch.nn.Module):
    """F(x, c_noise) = value: D = c_skip x + c_out value."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x, c_noise):
        return torch.full_like(x, self.value)


def test_denoiser_and_loss_follow_the_formulas():
    d = EDMDenoiser(Constant(0.3))
    x, sigma = torch.randn(2, 1, 4, 4), torch.tensor([0.1, 2.0])
    s = sigma[:, None, None, None]
    expected = d.pre.c_skip(s) * x + d.pre.c_out(s) * 0.3
    assert torch.allclose(d(x, sigma), expected)
    y, noise = torch.randn(2, 1, 4, 4), torch.randn(2, 1, 4, 4)
    residual = d(y + s * noise, sigma) - y
    assert edm_loss(d, y, sigma, noise) == pytest.approx(
        float((d.pre.loss_weight(s) * residual**2).mean()), rel=1e-6
    )


def test_sigma_schedule():
    sig = sigma_steps(40, 0.002, 80.0, 7.0)
    assert len(sig) == 41 and sig[-1] == 0
    assert sig[0] == pytest.approx(80.0) and sig[-2] == pytest.approx(0.002)
    assert bool((sig[1:] < sig[:-1]).all())
    with pytest.raises(ValueError, match="n_steps = 1 is not allowed: an integer >= 2"):
        sigma_steps(1)


def test_fixed_noise_is_reproducible_and_prefix_stable():
    a, b = fixed_noise(5, (1, 4, 4), seed=3), fixed_noise(2, (1, 4, 4), seed=3)
    assert torch.equal(a[:2], b)
    assert not torch.equal(a, fixed_noise(5, (1, 4, 4), seed=4))


def test_heun_solves_the_gaussian_flow():
    """Data N(0, s^2 I): D = s^2 x / (s^2 + sigma^2) and the flow maps sigma_max n to
    s sigma_max n / sqrt(s^2 + sigma_max^2) at sigma = 0."""
    s2 = 0.25

    def gaussian(x, sigma):
        return s2 * x / (s2 + sigma[:, None, None, None] ** 2)

    noise = fixed_noise(8, (1, 4, 4), seed=0).double()
    out = heun_sample(gaussian, noise, sigma_steps(200, 0.002, 80.0))
    exact = noise * 80.0 * math.sqrt(s2) / math.sqrt(s2 + 80.0**2)
    assert torch.allclose(out, exact, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("squares, resolution", [(AUTHORS_SQUARES, 64), (EIGHT, 16)])
def test_empirical_denoiser_returns_the_training_images(squares, resolution):
    images = square_images(scale_squares(squares, resolution / 64), resolution)
    train = to_model_range(images)[:, None].double()
    noise = fixed_noise(24, (1, resolution, resolution), seed=1).double()
    samples = heun_sample(empirical_denoiser(train), noise, sigma_steps(40))
    exact, sq = memorized(samples, train)
    assert exact.all()
    assert np.max(sq) < 1e-12
    hit = {int(((s - train) ** 2).sum((1, 2, 3)).argmin()) for s in samples}
    assert len(hit) > 1  # different noise reaches different training images


def test_memorized_thresholds_at_one_half_and_sums_squared_differences():
    train = torch.as_tensor(square_images([[0, 0, 2], [2, 2, 2]], 4))[:, None]
    near = train[:1] + 0.45  # all 16 pixels of image 0 moved by 0.45: black stays black
    flipped = train[:1].clone()
    flipped[0, 0, 3, 3] = 1.0  # one pixel of 16 off by 1
    exact, sq = memorized(torch.cat([near, flipped]), train)
    assert exact.tolist() == [True, False]
    assert sq[0] == pytest.approx(16 * 0.45**2)  # the authors' summed squared difference
    assert sq[1] == pytest.approx(1.0)


@pytest.mark.parametrize("value_range", [(0.0, 1.0), (-1.0, 1.0), (0.25, 0.75)])
def test_pixel_values_map_to_the_range_and_back(value_range):
    v = torch.tensor([0.0, 0.5, 1.0])
    y = to_model_range(v, value_range)
    assert y.tolist() == [value_range[0], sum(value_range) / 2, value_range[1]]
    assert torch.allclose(to_unit_range(y, value_range), v)
