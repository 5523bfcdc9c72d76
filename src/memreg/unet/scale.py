"""Family K's scale: what a U-Net training costs on a CPU, the guard against starting one
that would take hours there, and the label that says which scale a result comes from.

The CPU cost of one training is estimated from timings measured on this project's
2-core machine (2 threads, 64x64 images, batch 2; benchmarks/README.md, "Results:
U-Nets"): per model size C, the seconds of one training step, t_step(C), and of one
forward pass of 100 images, t_fwd(C). A run of S steps (images / batch) with an
evaluation round of n_eval samples and K Heun steps (2K - 1 network evaluations) every
E images costs

    seconds = max(1, p) S t_step(C) + p floor(images / E) (n_eval / 100) (2K - 1) t_fwd(C),

p = (R / 64)^2 for images of R x R pixels; t_step and t_fwd are interpolated linearly
in (log C, log t) between the measured sizes and extrapolated along the nearest
segment. Evaluation (batches of 50-100 images) scales with the pixels; a training step
at batch 1 or 2 does not get cheaper below 64x64, where fixed costs dominate (measured on
one thread: 0.12-0.25 s at 16x16 and 0.12-0.58 s at 32x32 for C = 4-32;
benchmarks/README.md, "Family K at a CPU scale"), and t_step at batch 2 bounds the
step at batch 1 from above.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch is imported only by the guard, not by the claims and plots
    from .training import UNetTrainConfig

# model_channels -> seconds, measured with 2 threads at 64x64 (benchmarks/README.md)
CPU_SECONDS_PER_STEP = {4: 0.079, 8: 0.092, 16: 0.160, 32: 0.418, 64: 1.40, 128: 5.66}
CPU_SECONDS_PER_100_FORWARDS = {4: 0.80, 8: 1.6, 16: 6.0, 32: 14.7, 64: 45.8, 128: 102.8}
MEASURED_RESOLUTION = 64


def _loglog(table: dict[int, float], channels: int) -> float:
    """``table`` interpolated (and extrapolated) linearly in log C, log seconds."""
    c = np.log(np.array(sorted(table), dtype=float))
    t = np.log(np.array([table[k] for k in sorted(table)]))
    x = math.log(channels)
    k = int(np.clip(np.searchsorted(c, x) - 1, 0, len(c) - 2))
    slope = (t[k + 1] - t[k]) / (c[k + 1] - c[k])
    return float(math.exp(t[k] + slope * (x - c[k])))


def cpu_hours(model_channels: int, resolution: int, train: UNetTrainConfig) -> float:
    """Estimated hours of one ``train_unet`` run on 2 CPU threads (module docstring), its
    evaluation rounds (``train.evaluation``) included."""
    pixels = (resolution / MEASURED_RESOLUTION) ** 2
    rounds = len(train.eval_images())
    evaluation = train.evaluation
    forwards = evaluation.n_eval / 100 * (2 * evaluation.n_steps - 1)
    seconds = max(1.0, pixels) * train.steps * _loglog(CPU_SECONDS_PER_STEP, model_channels)
    seconds += pixels * rounds * forwards * _loglog(CPU_SECONDS_PER_100_FORWARDS, model_channels)
    return seconds / 3600


def runtime_minutes(un: Mapping[str, Any], model_channels: int) -> int:
    """A time limit for a cluster job of one training of config section ``unet``: the CPU
    estimate :func:`cpu_hours`, doubled for slack, plus 10 minutes (a GPU job takes a small
    part of it)."""
    from .training import UNetTrainConfig  # here: torch only for the guard (as above)

    train = UNetTrainConfig.from_config(un["train"], un["evaluation"])
    return int(10 + 2 * 60 * cpu_hours(int(model_channels), un["resolution"], train))


class SlowOnCPU(RuntimeError):
    """A training that would take longer on this CPU than the configured limit."""


def check_cpu_budget(
    model_channels: int,
    resolution: int,
    train: UNetTrainConfig,
    device: str | None,
    limit_hours: float,
    allow_slow_cpu: bool,
) -> float | None:
    """Refuse, before it starts, a training that finds no CUDA device and would run more
    than ``limit_hours`` on the CPU (unless ``allow_slow_cpu``). Returns the estimated
    hours on CPU, None on a CUDA device; raises SlowOnCPU with the ways around it."""
    from .training import pick_device

    if pick_device(device).type == "cuda":
        return None
    hours = cpu_hours(model_channels, resolution, train)
    if hours > limit_hours and not allow_slow_cpu:
        raise SlowOnCPU(
            f"this U-Net training (model_channels {model_channels}, {resolution}x{resolution}, "
            f"{train.steps:,} steps, {len(train.eval_images())} evaluation rounds) found no CUDA "
            f"device and would take about {hours:.1f} h on this CPU, above "
            f"unet.cpu_hours_limit = {limit_hours:g} h. Run it on a GPU machine (unet.device: "
            "auto picks CUDA), or on a cluster with `--workflow-profile slurm` and a GPU "
            "partition (README, 'Run on a SLURM cluster'), or accept the CPU time with "
            "`--config unet__allow_slow_cpu=true`. Nothing was computed or deleted."
        )
    return hours


PAPER_SCALE_COMMAND = "snakemake --cores N --config preset=paper"
PAPER_SCALE_HINT = f"the paper's scale: {PAPER_SCALE_COMMAND} (GPU or cluster)"


def scale_label(
    resolution: int, images: int, model_channels: list[int], seeds: dict[int, int]
) -> str:
    """The scale of a family-K run in words, e.g. '16x16, 4,000 images per training
    (2,000 epochs of N = 2), model_channels 4-32, seeds 3 (N = 2) / 1 (N = 8)'; ``seeds``
    maps the number of training images N to the seeds per model size."""
    sizes = sorted(int(c) for c in model_channels)
    span = f"{sizes[0]}-{sizes[-1]}" if len(sizes) > 1 else f"{sizes[0]}"
    n_small = min(seeds)
    counts = " / ".join(f"{seeds[n]} (N = {n})" for n in sorted(seeds))
    return (
        f"{resolution}x{resolution}, {images:,} images per training ({images / n_small:,.0f} "
        f"epochs of N = {n_small}), model_channels {span}, seeds {counts}"
    )


def run_scale_note(label: str) -> str:
    """What a family-K figure, claim or caption says of its scale: this run's ``label``
    (``scale_label``) and how to get the paper's."""
    return f"this run: {label}; {PAPER_SCALE_HINT}"


def table_scale_label(table) -> str:
    """``scale_label`` of the run that wrote a family-K table (``results/unet/*.csv``:
    columns resolution, images, model_channels, n_train, seed); the seeds per size are the
    smallest count over the sizes of each data set."""
    seeds = table.groupby(["n_train", "model_channels"])["seed"].nunique().groupby("n_train").min()
    return scale_label(
        int(table["resolution"].iloc[0]),
        int(table["images"].max()),
        [int(c) for c in table["model_channels"].unique()],
        {int(n): int(k) for n, k in seeds.items()},
    )
