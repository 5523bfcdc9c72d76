"""Family K on one device: training steps/s per model size and one evaluation round.

    python benchmarks/bench_unet_device.py [--device cuda] [--channels 4 8 ...]
                                           [--steps 200] [--warmup 20] [--out FILE.md]

The one prepared script for a GPU check (it also runs on CPU with small settings, which
is how it is tested by hand). Everything else comes from the paper settings of
``config.yaml`` (section ``unet``, no preset): the authors' N = 2 squares, the
architecture, the training and evaluation settings. For each ``model_channels`` it runs
``memreg.unet_training.train_unet`` itself, the code the workflow runs (CUDA with bf16
autocast and cudnn.benchmark when the device is CUDA), and times the steps after
``--warmup`` through the ``on_step`` hook, synchronizing the device at the two ends. Then
it times one evaluation round as configured (``memreg.unet_training.evaluate``; paper:
100 fixed-noise samples, 40 Heun steps, i.e. 79 network evaluations at batch 100) on the
trained EMA model under the same autocast, after a warm-up round at the same batch shape.

It prints, and with ``--out`` writes, a markdown table with the device's name and the
per-model estimate of a paper-preset run: ``train.steps`` steps plus one evaluation
round every ``train.eval_every`` steps.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import time
from pathlib import Path

import torch
import yaml

from memreg.data import scale_squares, square_images
from memreg.edm import to_model_range
from memreg.unet import UNetConfig
from memreg.unet_training import EvalConfig, UNetTrainConfig, evaluate, pick_device, train_unet


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def time_training(images, arch: UNetConfig, steps: int, warmup: int, device: torch.device):
    """(seconds per step after the warm-up, the trained run) of ``train_unet``."""
    stamps: dict[int, float] = {}

    def on_step(step: int) -> None:
        if step in (warmup, warmup + steps):
            synchronize(device)
            stamps[step] = time.perf_counter()

    # One evaluation (at the last step, after the timed window) keeps the config valid.
    tiny_eval = EvalConfig(n_eval=1, n_grid=1, n_steps=2, n_boot=10)
    total = warmup + steps + 1
    cfg = UNetTrainConfig(steps=total, eval_every=total, evaluation=tiny_eval)
    run = train_unet(images, arch, cfg, device=str(device), on_step=on_step)
    return (stamps[warmup + steps] - stamps[warmup]) / steps, run


def time_evaluation(images, run, cfg: EvalConfig, device: torch.device) -> float:
    """Seconds of one evaluation round of ``run``'s EMA model."""
    model = run.ema.to(device)
    train = to_model_range(images)[:, None].to(device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    with autocast:  # warm-up at the same batch shape (cudnn.benchmark picks its kernels)
        evaluate(model, train, dataclasses.replace(cfg, n_steps=2, n_boot=10), device)
    synchronize(device)
    start = time.perf_counter()
    with autocast:
        evaluate(model, train, cfg, device)
    synchronize(device)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    parser.add_argument("--channels", type=int, nargs="+", help="default: the config's sizes")
    parser.add_argument("--steps", type=int, default=200, help="timed training steps per size")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps before them")
    parser.add_argument("--heun-steps", type=int, help="default: the config's evaluation")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    un = yaml.safe_load(args.config.read_text())["unet"]
    squares = scale_squares(un["datasets"]["n2"], un["resolution"] / un["squares_resolution"])
    images = square_images(squares, un["resolution"])
    paper = UNetTrainConfig(**un["train"])
    evaluation = EvalConfig(**un["evaluation"])
    if args.heun_steps is not None:
        evaluation = dataclasses.replace(evaluation, n_steps=args.heun_steps)
    rounds = len(paper.eval_steps())
    device = pick_device(args.device)
    lines = [
        f"Device: {device_name(device)}; torch {torch.__version__}; {un['resolution']}x"
        f"{un['resolution']}, batch {paper.batch_size}, N = {len(images)}; {args.steps} timed "
        f"steps after {args.warmup}; evaluation: {evaluation.n_eval} samples, "
        f"{evaluation.n_steps} Heun steps.",
        "",
        "| model_channels (parameters) | steps/s | s / evaluation round | "
        f"paper preset ({paper.steps:,} steps + {rounds} rounds) |",
        "|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    for channels in args.channels or un["model_channels"]:
        arch = UNetConfig(
            resolution=un["resolution"],
            model_channels=channels,
            channel_mult=un["channel_mult"],
            num_blocks=un["num_blocks"],
            attn_resolutions=un["attn_resolutions"],
        )
        per_step, run = time_training(images, arch, args.steps, args.warmup, device)
        per_round = time_evaluation(images, run, evaluation, device)
        total_h = (paper.steps * per_step + rounds * per_round) / 3600
        line = (
            f"| {channels} ({run.n_params:,}) | {1 / per_step:.1f} | {per_round:.2f} | "
            f"{total_h:.2f} h |"
        )
        lines.append(line)
        print(line, flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
