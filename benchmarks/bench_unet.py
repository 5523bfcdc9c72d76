"""EDM U-Net training on CPU: steps per second, and the overhead of the full loop.

    python benchmarks/bench_unet.py [--channels 16 64] [--steps 60 20] [--threads 2]

For each model size (64x64 images, batch 2, the paper's N = 2 squares) it times

- a bare loop: draw images, noise levels and noise, EDM loss, backward, Adam step;
- ``memreg.unet.training.train_unet`` on the same model and data: the same steps plus
  learning-rate warm-up, EMA, loss logging, the progress bar and one checkpoint at
  the end, with evaluation reduced to one 2-step sample (its cost is reported by
  evaluation rounds, not here);

and one checkpoint save on its own, so that its cost at the paper's cadence (every
1000 steps) can be amortized. Target: full loop at most 15% slower than the bare one.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from memreg.data import square_images
from memreg.unet.edm import EDMDenoiser, draw_noise_levels, edm_loss, to_model_range
from memreg.unet.network import UNet, UNetConfig
from memreg.unet.training import EvalConfig, UNetTrainConfig, train_unet

TARGET = 0.15
IMAGES = square_images([[6, 6, 12], [40, 40, 14]], 64)


def bare_loop(arch: UNetConfig, steps: int, seed: int = 0) -> float:
    torch.manual_seed(seed)
    model = EDMDenoiser(UNet(arch))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    train, gen = to_model_range(IMAGES)[:, None], torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(len(train), (2,), generator=gen)
        sigma = draw_noise_levels(2, gen)
        noise = torch.randn((2, *train.shape[1:]), generator=gen)
        loss = edm_loss(model, train[idx], sigma, noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def full_loop(arch: UNetConfig, steps: int, folder: Path) -> tuple[float, float]:
    """(seconds of train_unet, seconds of one checkpoint save)."""
    tiny_eval = EvalConfig(n_eval=1, n_grid=1, n_steps=2, n_boot=10)
    images = 2 * steps  # batch 2, as the bare loop
    cfg = UNetTrainConfig(
        images=images,
        batch_size=2,
        checkpoint_every=images,
        eval_every=images,
        log_every=images,
        evaluation=tiny_eval,
    )
    ckpt = folder / f"c{arch.model_channels}.pt"
    start = time.perf_counter()
    train_unet(IMAGES, arch, cfg, checkpoint=ckpt, progress=True)
    full = time.perf_counter() - start
    state = torch.load(ckpt, weights_only=True)
    start = time.perf_counter()
    torch.save(state, folder / "again.pt")
    return full, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--steps", type=int, nargs="+", default=[60, 20])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ok = True
    print(f"torch {torch.__version__}, {args.threads} threads, 64x64, batch 2")
    with tempfile.TemporaryDirectory() as tmp:
        for channels, steps in zip(args.channels, args.steps):
            arch = UNetConfig(model_channels=channels)
            bare_loop(arch, 2)  # warm-up
            bare = bare_loop(arch, steps)
            full, save = full_loop(arch, steps, Path(tmp))
            overhead = full / bare - 1
            at_paper = (full - save) / bare - 1 + save / (1000 * bare / steps)
            ok &= at_paper <= TARGET
            print(
                f"model_channels {channels:4d} ({UNet(arch).n_params:,} params), {steps} steps:\n"
                f"  bare loop  {steps / bare:6.2f} steps/s ({bare / steps:.3f} s/step)\n"
                f"  train_unet {steps / full:6.2f} steps/s, overhead {overhead:+.1%} with one "
                f"checkpoint in {steps} steps\n"
                f"  one checkpoint save {save:.2f} s; overhead at one per 1000 steps "
                f"{at_paper:+.1%} (target <= {TARGET:.0%})"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
