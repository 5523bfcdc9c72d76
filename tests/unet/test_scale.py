"""Family K's CPU cost estimate, the guard against hours-long CPU trainings, scale labels."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from memreg.unet.scale import (
    CPU_SECONDS_PER_100_FORWARDS,
    CPU_SECONDS_PER_STEP,
    SlowOnCPU,
    check_cpu_budget,
    cpu_hours,
    runtime_minutes,
    scale_label,
    table_scale_label,
)
from memreg.unet.training import EvalConfig, UNetTrainConfig

# the authors' 100,000 images at batch 1 (100,000 steps), an evaluation every 200 images
# (500 rounds) of 100 samples by 40 Heun steps (79 network evaluations)
PAPER = UNetTrainConfig()


# Worked by hand from the measured 2-thread timings of benchmarks/README.md (per training
# step; per 100 network evaluations): 100,000 steps + 500 rounds x 79 evaluations.
HAND = {
    4: (100_000 * 0.079 + 39_500 * 0.80) / 3600,  # 7,900 + 31,600 s = 10.97 h
    16: (100_000 * 0.160 + 39_500 * 6.0) / 3600,  # 16,000 + 237,000 s = 70.28 h
    128: (100_000 * 5.66 + 39_500 * 102.8) / 3600,  # 566,000 + 4,060,600 s = 1,285.2 h
}


@pytest.mark.parametrize("channels, hours", sorted(HAND.items()))
def test_estimate_at_a_measured_size_is_the_measured_cost(channels, hours):
    assert cpu_hours(channels, 64, PAPER) == pytest.approx(hours)


def test_estimate_scales_with_pixels_steps_and_rounds_and_interpolates_sizes():
    base = cpu_hours(16, 64, PAPER)
    assert cpu_hours(16, 128, PAPER) == pytest.approx(4 * base)
    steps = 100_000 * 0.160 / 3600  # the steps' hours (a step is not cheaper below 64)
    assert cpu_hours(16, 32, PAPER) == pytest.approx(steps + (base - steps) / 4)
    short = UNetTrainConfig(images=50_000, eval_every=200)
    assert cpu_hours(16, 64, short) == pytest.approx(base / 2)
    pairs = UNetTrainConfig(batch_size=2)  # half the steps, the same evaluation rounds
    assert cpu_hours(16, 64, pairs) == pytest.approx(base - steps / 2)
    between = cpu_hours(24, 64, PAPER)
    assert cpu_hours(16, 64, PAPER) < between < cpu_hours(32, 64, PAPER)
    geometric = math.sqrt(CPU_SECONDS_PER_STEP[16] * CPU_SECONDS_PER_STEP[32])
    one_round = UNetTrainConfig(
        images=1000, eval_every=1000, evaluation=EvalConfig(n_eval=1, n_grid=1, n_steps=2)
    )
    fwd = CPU_SECONDS_PER_100_FORWARDS
    rounds = 3 / 100 * math.sqrt(fwd[16] * fwd[32])
    hours = cpu_hours(round(math.sqrt(16 * 32) * 1e6) / 1e6, 64, one_round)
    assert hours == pytest.approx((1000 * geometric + rounds) / 3600, rel=1e-5)


def test_paper_scale_on_cpu_is_refused_with_the_estimate_and_the_ways_around():
    with pytest.raises(SlowOnCPU) as err:
        check_cpu_budget(4, 64, PAPER, "cpu", limit_hours=1.0, allow_slow_cpu=False)
    message = str(err.value)
    # (100,000 x 0.079 s + 500 x 79 x 0.80 s) / 3600 = 10.97 h
    assert "about 11.0 h" in message and "unet.cpu_hours_limit = 1 h" in message
    for way in ("GPU", "--workflow-profile slurm", "unet__allow_slow_cpu=true"):
        assert way in message
    assert len(message) < 700  # one paragraph


def test_the_opt_in_or_a_short_run_passes_the_guard():
    hours = check_cpu_budget(4, 64, PAPER, "cpu", limit_hours=1.0, allow_slow_cpu=True)
    assert hours == pytest.approx(cpu_hours(4, 64, PAPER))
    short = UNetTrainConfig(images=300, eval_every=100)
    assert check_cpu_budget(8, 16, short, "cpu", 1.0, False) < 0.1


def test_scale_labels():
    assert scale_label(32, 6000, [16, 4, 8, 32], {2: 3, 8: 1}) == (
        "32x32, 6,000 images per training (3,000 epochs of N = 2), model_channels 4-32, "
        "seeds 3 (N = 2) / 1 (N = 8)"
    )
    assert scale_label(64, 100_000, [16], {2: 1}) == (
        "64x64, 100,000 images per training (50,000 epochs of N = 2), model_channels 16, "
        "seeds 1 (N = 2)"
    )
    table = pd.DataFrame(
        {
            "resolution": 16,
            "images": [100, 300, 200, 300, 300, 300],
            "model_channels": [8, 4, 8, 8, 4, 8],
            "n_train": [2, 2, 2, 2, 8, 8],
            "seed": [0, 0, 0, 1, 0, 0],
        }
    )  # N = 2: size 8 has seeds 0 and 1, size 4 only seed 0: the smaller count is named
    assert table_scale_label(table) == (
        "16x16, 300 images per training (150 epochs of N = 2), model_channels 4-8, "
        "seeds 1 (N = 2) / 1 (N = 8)"
    )


def test_cluster_minutes_are_the_estimate_doubled():
    un = {"resolution": 64, "train": {"images": 100_000, "eval_every": 200},
          "evaluation": {"n_eval": 100, "n_steps": 40}}  # fmt: skip
    # C = 4: 10.97 h (HAND above) = 658.3 minutes -> 10 + 2 x 658.3 = 1,326.7
    assert runtime_minutes(un, 4) == 1326
