"""Where a value must appear twice, the two are equal.

The library's settings classes carry the paper's (or the authors') values as defaults, so
that ``UNetConfig()`` is the paper's U-Net for a user of the library; config.yaml states
every value again for the workflow, where a reader finds all settings in one file. This test
holds each default that config.yaml restates equal to config.yaml's own value (the default
preset: config.yaml without a preset's overrides)."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from memreg.closed_form.process import PROCESSES
from memreg.closed_form.sampling import DEFAULT_STEPS, T_MIN
from memreg.metrics import N_BOOT
from memreg.mlp.model import Architecture
from memreg.mlp.training import TrainConfig
from memreg.unet.network import UNetConfig
from memreg.unet.training import EvalConfig, UNetTrainConfig

from .test_docs import REPO

CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())


def defaults(cls) -> dict:
    return {f.name: f.default for f in dataclasses.fields(cls)
            if f.default is not dataclasses.MISSING}  # fmt: skip


def plain(value):
    return list(value) if isinstance(value, tuple) else value


# (settings class, config section, the fields that config.yaml must restate)
RESTATED = [
    (UNetTrainConfig, CONFIG["unet"]["train"], {"images", "batch_size", "lr", "value_range",
     "lr_rampup_images", "ema_halflife_images", "ema_rampup_ratio", "p_mean", "p_std",
     "checkpoint_every", "eval_every", "log_every", "seed"}),
    (EvalConfig, CONFIG["unet"]["evaluation"], {"n_eval", "n_grid", "n_steps", "sigma_min",
     "sigma_max", "rho", "noise_seed", "n_boot"}),
    (UNetConfig, CONFIG["unet"], {"resolution", "channel_mult", "num_blocks",
     "attn_resolutions"}),
    (TrainConfig, CONFIG["neural"], {"lr", "ema_decay", "ema_update_after_step",
     "ema_update_every", "t_eps", "save_every", "log_every"}),
    (Architecture, CONFIG["neural"], {"n_hidden", "embedding_dim"}),
    *[(PROCESSES[name], CONFIG["processes"][name], set(CONFIG["processes"][name]))
      for name in PROCESSES],
]  # fmt: skip


@pytest.mark.parametrize("cls, section, restated", RESTATED, ids=[r[0].__name__ for r in RESTATED])
def test_each_default_that_config_yaml_restates_is_equal_to_it(cls, section, restated):
    own = defaults(cls)
    assert restated <= set(own) & set(section), cls.__name__
    for key in sorted(restated):
        assert plain(own[key]) == section[key], f"{cls.__name__}.{key}"


def test_the_defaults_that_config_yaml_states_under_other_names():
    assert UNetConfig().model_channels == max(CONFIG["unet"]["model_channels"])  # the paper's
    assert Architecture().width == CONFIG["neural"]["tikhonov"]["width"]
    assert Architecture().dim == CONFIG["data"]["authors_points"]["dim"]


def test_one_bootstrap_count():
    stated = [CONFIG["regularization"]["n_boot"], CONFIG["neural"]["n_boot"],
              CONFIG["unet"]["evaluation"]["n_boot"], CONFIG["claims"]["n_boot"]]  # fmt: skip
    assert stated == [N_BOOT] * 4
    assert EvalConfig().n_boot == N_BOOT


def test_the_samplers_defaults_are_the_figures_settings():
    for section in ("dynamics", "regularization"):
        assert CONFIG[section]["t_min"] == T_MIN, section
        assert CONFIG[section]["n_steps"] == DEFAULT_STEPS, section
