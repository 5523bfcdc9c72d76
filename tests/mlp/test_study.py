"""memreg.mlp.study: the networks and settings of families H, I, J, read from config.yaml."""

from __future__ import annotations

import yaml

from memreg.mlp import study
from memreg.mlp.model import Architecture, ModelSpec
from memreg.mlp.training import TrainConfig

from ..test_docs import REPO

CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())


def test_every_network_has_its_own_seed_and_the_same_settings_give_the_same_seeds():
    seeds = [m["seed"] for s in study.studies(CONFIG["neural"]) for m in study.models(
        CONFIG["neural"], s)]  # fmt: skip
    # H: 5 values of c, I: 2 parameterizations, J: 7 widths
    assert len(seeds) == 5 + 2 + 7 == len(set(seeds))
    assert seeds == [m["seed"] for s in study.studies(CONFIG["neural"])
                     for m in study.models(CONFIG["neural"], s)]  # fmt: skip


def test_settings_build_the_library_classes_with_the_studys_own_length_and_width():
    h = study.settings(CONFIG, "tikhonov")
    assert [ModelSpec(**m).c for m in h["models"]] == [0.0, 1e-4, 1e-3, 1e-2, 1e-1]
    train = TrainConfig(**{**h["train"], "snapshots": tuple(h["train"]["snapshots"])})
    assert train.iterations == 500_000
    assert train.snapshots == (100_000, 200_000, 300_000, 400_000, 500_000)
    j = study.settings(CONFIG, "width_64")
    assert Architecture(**j["architecture"]).width == 64
    assert j["train"]["snapshots"] == [20_000, 40_000, 60_000, 80_000, 100_000]
    i = study.settings(CONFIG, "early_stopping")
    assert [m["parameterization"] for m in i["models"]] == ["nonsingular", "singular"]


def test_a_snapshot_at_the_end_even_when_the_spacing_does_not_divide_the_length():
    cfg = {**CONFIG, "neural": {**CONFIG["neural"], "width": {
        **CONFIG["neural"]["width"], "iterations": 50_000, "snapshot_every": 20_000}}}  # fmt: skip
    assert study.settings(cfg, "width_16")["train"]["snapshots"] == [20_000, 40_000, 50_000]


def test_cluster_minutes_grow_with_width_squared():
    # 100,000 iterations of one network at (0.5 + 2 (w / 256)^2) ms, doubled, + 10 min:
    # w = 256: 2.5 ms -> 8.3 min -> 18; w = 1024: 32.5 ms -> 108.3 min -> 118
    assert study.runtime_minutes(CONFIG, "width_256") == 18
    assert study.runtime_minutes(CONFIG, "width_1024") == 118
