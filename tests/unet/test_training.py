"""U-Net training: the authors' protocol (epochs, learning rate, EMA, gradient clean-up, pixel
values), exact resume, corrupt and foreign checkpoints, evaluation records."""

from __future__ import annotations

import logging
import math
import re

import numpy as np
import pytest
import torch

import memreg.unet.training as training
from memreg.data import square_images
from memreg.errors import SettingError
from memreg.unet.network import UNetConfig
from memreg.unet.training import (
    CheckpointError,
    EvalConfig,
    UNetTrainConfig,
    clean_gradients_,
    epoch_order,
    load_unet,
    save_unet,
    train_unet,
)

ARCH = UNetConfig(resolution=8, model_channels=4, channel_mult=(1, 2), num_blocks=1,
                  attn_resolutions=(4,))  # fmt: skip
IMAGES = square_images([[0, 0, 3], [4, 4, 4]], 8)
EVAL = EvalConfig(n_eval=6, n_grid=3, n_steps=4, n_boot=50)


def config(**kw) -> UNetTrainConfig:
    base = dict(images=6, checkpoint_every=2, eval_every=3, lr_rampup_images=4, evaluation=EVAL)
    return UNetTrainConfig(**{**base, **kw})


class Killed(Exception):
    pass


def kill_after(images_to_die: int):
    def on_step(images: int) -> None:
        if images == images_to_die:
            raise Killed

    return on_step


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_run(tmp_path):
    whole = train_unet(IMAGES, ARCH, config())
    ckpt = tmp_path / "state.pt"
    with pytest.raises(Killed):  # dies after image 5, mid-epoch; the last checkpoint is at 4
        train_unet(IMAGES, ARCH, config(), checkpoint=ckpt, on_step=kill_after(5))
    assert torch.load(ckpt, weights_only=True)["images"] == 4
    resumed = train_unet(IMAGES, ARCH, config(), checkpoint=ckpt)
    assert same_weights(whole.ema, resumed.ema)
    assert resumed.evaluations == whole.evaluations
    assert [e["images"] for e in whole.evaluations] == [3, 6]
    assert [e["epoch"] for e in whole.evaluations] == [1.5, 3.0]
    assert all(torch.equal(whole.grids[s], resumed.grids[s]) for s in (3, 6))
    assert whole.grids[6].shape == (3, 1, 8, 8)


def test_a_corrupt_checkpoint_is_set_aside_and_the_previous_one_used(tmp_path, caplog):
    ckpt = tmp_path / "state.pt"
    with pytest.raises(Killed):
        train_unet(IMAGES, ARCH, config(), checkpoint=ckpt, on_step=kill_after(5))
    assert torch.load(ckpt.with_name("state.pt.prev"), weights_only=True)["images"] == 2
    ckpt.write_bytes(ckpt.read_bytes()[:1000])  # a truncated write
    with caplog.at_level(logging.WARNING):
        resumed = train_unet(IMAGES, ARCH, config(), checkpoint=ckpt)
    assert "unreadable" in caplog.text and "previous checkpoint" in caplog.text
    assert ckpt.with_name("state.pt.corrupt").exists()
    assert same_weights(resumed.ema, train_unet(IMAGES, ARCH, config()).ema)


def test_no_readable_checkpoint_is_an_error_not_a_fresh_start(tmp_path):
    ckpt = tmp_path / "state.pt"
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="no readable checkpoint"):
        train_unet(IMAGES, ARCH, config(), checkpoint=ckpt)


def test_a_checkpoint_of_another_configuration_is_refused_by_name(tmp_path):
    ckpt = tmp_path / "state.pt"
    with pytest.raises(Killed):
        train_unet(IMAGES, ARCH, config(), checkpoint=ckpt, on_step=kill_after(3))
    with pytest.raises(CheckpointError, match=r"train\.lr: checkpoint has 0\.001, this run has"):
        train_unet(IMAGES, ARCH, config(lr=2e-3), checkpoint=ckpt)


def test_the_loss_curve_is_the_mean_over_blocks_of_log_every_images():
    every_step = train_unet(IMAGES, ARCH, config(log_every=1))
    pairs = train_unet(IMAGES, ARCH, config(log_every=2))
    assert same_weights(every_step.ema, pairs.ema)
    assert every_step.loss_images == [1, 2, 3, 4, 5, 6] and pairs.loss_images == [2, 4, 6]
    means = [(a + b) / 2 for a, b in zip(every_step.losses[::2], every_step.losses[1::2])]
    assert pairs.losses == pytest.approx(means, rel=1e-6)
    assert train_unet(IMAGES, ARCH, config()).loss_images == [6]  # default 200: the end only


def test_saved_model_loads_and_refuses_another_architecture(tmp_path):
    run = train_unet(IMAGES, ARCH, config(images=3))
    save_unet(tmp_path / "model.pt", run, ARCH)
    assert same_weights(load_unet(tmp_path / "model.pt", ARCH), run.ema)
    other = UNetConfig(**{**ARCH.record(), "model_channels": 8})
    with pytest.raises(CheckpointError, match="model_channels"):
        load_unet(tmp_path / "model.pt", other)


def test_training_reduces_the_loss():
    run = train_unet(IMAGES, ARCH, config(images=300, eval_every=300, lr=2e-3))
    assert run.losses[-1] < 0.7 * run.losses[0]


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"eval_every": 10}, "eval_every = 10 is not allowed: at most images = 6"),
        ({"images": 7}, "images = 7 is not allowed: a multiple of eval_every = 3"),
        ({"batch_size": 2}, "eval_every = 3 is not allowed: a multiple of batch_size = 2"),
        ({"value_range": (1.0, 0.0)}, "value_range = [1.0, 0.0] is not allowed: [low, high]"),
        ({"precision": "fp16"}, "precision = 'fp16' is not allowed: one of ['float32', "),
        ({"lr": -1.0}, "lr = -1.0 is not allowed: a number > 0"),
        ({"batch_size": 0}, "batch_size = 0 is not allowed: an integer >= 1"),
        ({"log_every": 0}, "log_every = 0 is not allowed: an integer >= 1"),
    ],
)
def test_bad_settings_are_refused(kw, message):
    # the argument, its value and what is allowed (the workflow names its config key instead)
    with pytest.raises(SettingError, match=re.escape(message)):
        config(**kw)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"n_eval": 4, "n_grid": 5}, "n_grid = 5 is not allowed: from 1 to n_eval = 4"),
        ({"n_steps": 1}, "n_steps = 1 is not allowed: an integer >= 2"),
        ({"sigma_min": 90.0}, "sigma_min = 90.0 is not allowed: a number > 0 below sigma_max"),
    ],
)
def test_bad_evaluation_settings_are_refused(kw, message):
    with pytest.raises(SettingError, match=re.escape(message)):
        EvalConfig(**kw)


def test_images_of_the_wrong_size_are_refused():
    with pytest.raises(ValueError, match="resolution 8"):
        train_unet(square_images([[0, 0, 2]], 16), ARCH, config())


def test_cuda_graph_is_ignored_off_cuda_with_a_log_line(caplog):
    """On CPU the CUDA-graph step falls back to the plain step: same run, one info line."""
    plain = train_unet(IMAGES, ARCH, config())
    with caplog.at_level(logging.INFO, logger="memreg.unet.training"):
        graphed = train_unet(IMAGES, ARCH, config(), device="cpu", cuda_graph=True)
    assert same_weights(plain.ema, graphed.ema)
    assert graphed.losses == plain.losses
    assert any("cuda_graph applies to CUDA devices only" in r.message for r in caplog.records)


def test_a_checkpoint_resumes_whichever_optimizer_kind_wrote_it(tmp_path):
    """A capturable Adam state (device step counters, tensor learning rate, as the CUDA-graph
    step keeps it) is turned back into the plain step's on resume, and vice versa."""
    from memreg.unet.edm import EDMDenoiser
    from memreg.unet.network import UNet
    from memreg.unet.training import adam, adam_policy

    model = EDMDenoiser(UNet(ARCH))
    plain = adam(model, 1e-3)
    model(torch.zeros(2, 1, 8, 8), torch.ones(2)).square().mean().backward()
    plain.step()
    saved = plain.state_dict()
    saved["param_groups"][0]["capturable"] = True
    saved["param_groups"][0]["lr"] = torch.tensor(5e-4)
    again = adam(model, 1e-3)
    again.load_state_dict(saved)
    adam_policy(again, capturable=False)
    group = again.param_groups[0]
    assert group["capturable"] is False and group["lr"] == 1e-3
    steps = [s["step"] for s in again.state.values()]
    assert all(s.device.type == "cpu" and float(s) == 1.0 for s in steps)
    again.step()  # the plain step runs on the restored state


# ----------------------------------------------------------------------------- the protocol


def test_the_learning_rate_ramps_linearly_over_the_authors_ten_million_images():
    """lr = 1e-3 min(n / 1e7, 1), n = 1 + images seen before the step (their counter)."""
    paper = UNetTrainConfig()
    assert paper.learning_rate(0) == pytest.approx(1e-10, rel=1e-12)  # the first step
    assert paper.learning_rate(99_999) == pytest.approx(1e-5, rel=1e-12)  # the last of 100,000
    assert paper.learning_rate(4_999_999) == pytest.approx(5e-4, rel=1e-12)
    assert paper.learning_rate(9_999_999) == 1e-3 == paper.learning_rate(50_000_000)


def test_the_ema_half_life_grows_with_the_images_seen_up_to_its_cap():
    """beta = 0.5^(B / min(500,000, 0.05 n)), n = 1 + images seen."""
    paper = UNetTrainConfig()
    assert paper.ema_beta(0) == pytest.approx(0.5**20, rel=1e-12)  # half-life 0.05 images
    assert paper.ema_beta(1999) == pytest.approx(0.5 ** (1 / 100), rel=1e-12)  # 100 images
    assert paper.ema_beta(10**8) == pytest.approx(0.5 ** (1 / 500_000), rel=1e-12)  # the cap


def test_an_epoch_visits_every_image_once_in_a_shuffled_order():
    gen = torch.Generator().manual_seed(0)
    orders = [epoch_order(5, 1, gen) for _ in range(40)]
    assert all(sorted(o.flatten().tolist()) == [0, 1, 2, 3, 4] for o in orders)
    assert all(o.shape == (5, 1) for o in orders)
    assert len({tuple(o.flatten().tolist()) for o in orders}) > 10  # not one fixed order
    pairs = epoch_order(4, 2, gen)
    assert pairs.shape == (2, 2) and sorted(pairs.flatten().tolist()) == [0, 1, 2, 3]
    with pytest.raises(SettingError, match="batch_size = 3 is not allowed: a divisor of"):
        epoch_order(4, 3, gen)


def spy_on_batches(monkeypatch) -> list[torch.Tensor]:
    """The training images of every step, as train_unet hands them to the loss."""
    seen, loss = [], training.edm_loss

    def recording(model, y, sigma, noise):
        seen.append(y.detach().clone())
        return loss(model, y, sigma, noise)

    monkeypatch.setattr(training, "edm_loss", recording)
    return seen


def test_training_takes_each_image_once_per_epoch_at_batch_one(monkeypatch):
    four = square_images([[0, 0, 2], [4, 4, 3], [0, 5, 3], [5, 0, 2]], 8)
    batches = spy_on_batches(monkeypatch)
    train_unet(four, ARCH, config(images=24, eval_every=24, checkpoint_every=24))
    assert len(batches) == 24 and all(b.shape == (1, 1, 8, 8) for b in batches)
    sums = [int(b.sum()) for b in batches]  # the squares' areas tell the images apart
    for epoch in range(6):
        assert sorted(sums[4 * epoch : 4 * epoch + 4]) == [4, 4, 9, 9]
    first = sums[:4]
    assert any(sums[4 * e : 4 * e + 4] != first for e in range(1, 6))  # the order changes


@pytest.mark.parametrize("value_range", [(0.0, 1.0), (-1.0, 1.0)])
def test_the_network_sees_the_configured_pixel_values(monkeypatch, value_range):
    batches = spy_on_batches(monkeypatch)
    run = train_unet(IMAGES, ARCH, config(images=2, eval_every=2, value_range=value_range))
    values = torch.cat(batches).unique().tolist()
    assert values == list(value_range)  # the authors' {0, 1}, or EDM's {-1, 1}
    assert run.grids[2].min() >= 0 and run.grids[2].max() <= 1  # the grid in pixel values


def test_gradients_are_cleaned_as_the_authors_do():
    p = torch.zeros(5, requires_grad=True)
    p.grad = torch.tensor([float("nan"), float("inf"), -float("inf"), 2.5, -1e-3])
    q = torch.zeros(2, requires_grad=True)  # no gradient: left alone
    clean_gradients_([p, q])
    assert p.grad.tolist() == [0.0, 1e5, -1e5, 2.5, pytest.approx(-1e-3)]
    assert q.grad is None


def test_a_nan_gradient_does_not_reach_the_weights_when_cleaned(monkeypatch):
    """One step whose loss gradient is nan everywhere: cleaned, Adam sees zeros and the
    weights stay finite; uncleaned, they become nan."""
    loss = training.edm_loss

    def poisoned(model, y, sigma, noise):
        return loss(model, y, sigma, noise) * torch.tensor(float("nan"))

    monkeypatch.setattr(training, "edm_loss", poisoned)
    clean = train_unet(IMAGES, ARCH, config(images=3, eval_every=3))
    dirty = train_unet(IMAGES, ARCH, config(images=3, eval_every=3, clean_gradients=False))
    assert all(torch.isfinite(p).all() for p in clean.ema.parameters())
    assert not all(torch.isfinite(p).all() for p in dirty.ema.parameters())


def test_the_evaluation_records_the_authors_distance():
    run = train_unet(IMAGES, ARCH, config(images=3, eval_every=3))
    (record,) = run.evaluations
    assert record["images"] == 3 and record["step"] == 3 and record["epoch"] == 1.5
    assert 0 <= record["sq_distance_mean"] <= record["sq_distance_max"]  # samples not clamped
    # the RMS distance is the square root of each sample's squared distance over 64 pixels:
    # its mean lies below the root of the mean (Jensen)
    assert record["mean_nearest_distance"] <= math.sqrt(record["sq_distance_mean"] / 64) + 1e-12
    assert np.isfinite(record["fraction_memorized"])


def test_a_batch_that_does_not_divide_the_images_is_refused_before_a_step(monkeypatch):
    batches = spy_on_batches(monkeypatch)
    cfg = config(images=6, eval_every=6, checkpoint_every=6, log_every=6, batch_size=3)
    with pytest.raises(SettingError, match="batch_size = 3 is not allowed: a divisor of"):
        train_unet(IMAGES, ARCH, cfg)  # N = 2
    assert batches == []
