"""Family K on one device: training steps/s per model size and one evaluation round.

    python benchmarks/bench_unet_device.py [--device cuda] [--channels 4 8 ... 128]
                                           [--steps 200] [--warmup 20] [--out FILE.md]

The one prepared script for a GPU check (it also runs on CPU with small settings, which
is how it is tested by hand). For each ``model_channels`` (64x64 images, batch 2, the
authors' N = 2 squares) it runs ``memreg.unet_training.train_unet`` itself, the code the
workflow runs (CUDA with bf16 autocast and cudnn.benchmark when the device is CUDA), and
times the steps after ``--warmup`` through the ``on_step`` hook, synchronizing the device
at the two ends. Then it times one evaluation round as the paper runs it
(``memreg.unet_training.evaluate``: 100 fixed-noise samples, 40 Heun steps, i.e. 79
network evaluations at batch 100) on the trained EMA model under the same autocast.

It prints, and with ``--out`` writes, a markdown table with the device's name and the
per-model estimate of a paper-preset run: 50,000 steps plus 50 evaluation rounds.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from memreg.data import square_images
from memreg.unet import UNetConfig
from memreg.unet_training import EvalConfig, UNetTrainConfig, evaluate, pick_device, train_unet

IMAGES = square_images([[6, 6, 12], [40, 40, 14]], 64)
PAPER_STEPS, PAPER_ROUNDS = 50_000, 50


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def time_training(channels: int, steps: int, warmup: int, device: torch.device):
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
    run = train_unet(
        IMAGES, UNetConfig(model_channels=channels), cfg, device=str(device), on_step=on_step
    )
    return (stamps[warmup + steps] - stamps[warmup]) / steps, run


def time_evaluation(run, device: torch.device, n_steps: int) -> float:
    """Seconds of one evaluation round (100 samples, ``n_steps`` Heun steps)."""
    model = run.ema.to(device)
    train = (2 * torch.as_tensor(IMAGES, dtype=torch.float32) - 1)[:, None].to(device)
    cfg = EvalConfig(n_steps=n_steps)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    with autocast:  # warm-up at the same batch shape (cudnn.benchmark picks its kernels)
        evaluate(model, train, EvalConfig(n_steps=2, n_boot=10), device)
    synchronize(device)
    start = time.perf_counter()
    with autocast:
        evaluate(model, train, cfg, device)
    synchronize(device)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    parser.add_argument("--channels", type=int, nargs="+", default=[4, 8, 16, 32, 64, 128])
    parser.add_argument("--steps", type=int, default=200, help="timed training steps per size")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps before them")
    parser.add_argument("--heun-steps", type=int, default=40)
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    device = pick_device(args.device)
    lines = [
        f"Device: {device_name(device)}; torch {torch.__version__}; 64x64, batch 2; "
        f"{args.steps} timed steps after {args.warmup}; evaluation: 100 samples, "
        f"{args.heun_steps} Heun steps.",
        "",
        "| model_channels (parameters) | steps/s | s / evaluation round | "
        f"paper preset ({PAPER_STEPS:,} steps + {PAPER_ROUNDS} rounds) |",
        "|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    for channels in args.channels:
        per_step, run = time_training(channels, args.steps, args.warmup, device)
        per_round = time_evaluation(run, device, args.heun_steps)
        total_h = (PAPER_STEPS * per_step + PAPER_ROUNDS * per_round) / 3600
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
