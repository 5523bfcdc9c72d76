"""U-Net training: exact resume, corrupt and foreign checkpoints, evaluation records."""

from __future__ import annotations

import logging
import re

import pytest
import torch

from memreg.data import square_images
from memreg.unet.network import SettingError, UNetConfig
from memreg.unet.training import (
    CheckpointError,
    EvalConfig,
    UNetTrainConfig,
    load_unet,
    save_unet,
    train_unet,
)

ARCH = UNetConfig(resolution=8, model_channels=4, channel_mult=(1, 2), num_blocks=1,
                  attn_resolutions=(4,))  # fmt: skip
IMAGES = square_images([[0, 0, 3], [4, 4, 4]], 8)
EVAL = EvalConfig(n_eval=6, n_grid=3, n_steps=4, n_boot=50)


def config(**kw) -> UNetTrainConfig:
    base = dict(steps=6, checkpoint_every=2, eval_every=3, lr_rampup_images=4, evaluation=EVAL)
    return UNetTrainConfig(**{**base, **kw})


class Killed(Exception):
    pass


def kill_after(step_to_die: int):
    def on_step(step: int) -> None:
        if step == step_to_die:
            raise Killed

    return on_step


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_run(tmp_path):
    whole = train_unet(IMAGES, ARCH, config())
    ckpt = tmp_path / "state.pt"
    with pytest.raises(Killed):  # dies after step 5; the last checkpoint is at step 4
        train_unet(IMAGES, ARCH, config(), checkpoint=ckpt, on_step=kill_after(5))
    assert torch.load(ckpt, weights_only=True)["step"] == 4
    resumed = train_unet(IMAGES, ARCH, config(), checkpoint=ckpt)
    assert same_weights(whole.ema, resumed.ema)
    assert resumed.evaluations == whole.evaluations
    assert [e["step"] for e in whole.evaluations] == [3, 6]
    assert all(torch.equal(whole.grids[s], resumed.grids[s]) for s in (3, 6))
    assert whole.grids[6].shape == (3, 1, 8, 8)


def test_a_corrupt_checkpoint_is_set_aside_and_the_previous_one_used(tmp_path, caplog):
    ckpt = tmp_path / "state.pt"
    with pytest.raises(Killed):
        train_unet(IMAGES, ARCH, config(), checkpoint=ckpt, on_step=kill_after(5))
    assert torch.load(ckpt.with_name("state.pt.prev"), weights_only=True)["step"] == 2
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


def test_the_loss_curve_is_the_mean_over_blocks_of_log_every_steps():
    every_step = train_unet(IMAGES, ARCH, config(log_every=1))
    pairs = train_unet(IMAGES, ARCH, config(log_every=2))
    assert same_weights(every_step.ema, pairs.ema)
    assert every_step.loss_steps == [1, 2, 3, 4, 5, 6] and pairs.loss_steps == [2, 4, 6]
    means = [(a + b) / 2 for a, b in zip(every_step.losses[::2], every_step.losses[1::2])]
    assert pairs.losses == pytest.approx(means, rel=1e-6)
    assert train_unet(IMAGES, ARCH, config()).loss_steps == [6]  # default 100: the end only


def test_saved_model_loads_and_refuses_another_architecture(tmp_path):
    run = train_unet(IMAGES, ARCH, config(steps=3))
    save_unet(tmp_path / "model.pt", run, ARCH)
    assert same_weights(load_unet(tmp_path / "model.pt", ARCH), run.ema)
    other = UNetConfig(**{**ARCH.record(), "model_channels": 8})
    with pytest.raises(CheckpointError, match="model_channels"):
        load_unet(tmp_path / "model.pt", other)


def test_training_reduces_the_loss():
    run = train_unet(IMAGES, ARCH, config(steps=300, eval_every=300, lr=2e-3))
    assert run.losses[-1] < 0.7 * run.losses[0]


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"eval_every": 10}, "eval_every = 10 is not allowed: at most steps = 6"),
        ({"steps": 7}, "steps = 7 is not allowed: a multiple of eval_every = 3"),
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
