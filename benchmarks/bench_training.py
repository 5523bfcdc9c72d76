"""Batched MLP training (memreg.mlp.training) against a plain one-model-at-a-time loop.

    python benchmarks/bench_training.py [--models 5] [--width 256] [--iterations 1000]
                                        [--threads <cores>] [--repeats 3]

The baseline is what a researcher writes first: an nn.Sequential of nn.Linear
layers with the same Gaussian-Fourier input, torch.optim.Adam, an EMA of the
weights, and the same denoising score matching loss, trained for the same number
of iterations once per model. Both use the same number of torch threads: by default
the machine's cores (``--threads 1``: one thread, as each of the workflow's parallel
jobs). The two alternate ``--repeats`` times and the best run of each counts, so that
a slow spell of a shared machine does not decide the ratio.
Target: batched model-iterations per second >= 3x the baseline's.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import torch
from torch import nn

from memreg.closed_form.process import make_process
from memreg.data import authors_points
from memreg.mlp.model import Architecture, MLPGroup, ModelSpec
from memreg.mlp.training import TrainConfig, train

TARGET = 3.0


def plain_loop(width: int, iterations: int, seed: int, c: float) -> float:
    """Train one network the plain way; returns the wall time."""
    torch.manual_seed(seed)
    vp, x0 = make_process("vp"), torch.as_tensor(authors_points(), dtype=torch.float32)
    freqs = torch.randn(4)
    net = nn.Sequential(
        nn.Linear(10, width),
        nn.ReLU(),
        nn.Linear(width, width),
        nn.ReLU(),
        nn.Linear(width, width),
        nn.ReLU(),
        nn.Linear(width, 2),
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    ema = [p.detach().clone() for p in net.parameters()]
    start = time.perf_counter()
    for _ in range(iterations):
        t = 1e-5 + (1 - 1e-5) * torch.rand(len(x0))
        eps = torch.randn_like(x0)
        sigma = vp.sigma(t)[:, None]
        xt = vp.alpha(t)[:, None] * x0 + sigma * eps
        angle = 2 * math.pi * t[:, None] * freqs[None]
        s = net(torch.cat([xt, torch.sin(angle), torch.cos(angle)], dim=1))
        loss = ((sigma * s + eps) ** 2).mean() + c * (s**2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for e, p in zip(ema, net.parameters()):
                e.mul_(0.9999).add_(p.detach(), alpha=1e-4)
    return time.perf_counter() - start


def batched_loop(width: int, iterations: int, c_values: list[float]) -> float:
    """Train the M networks as one MLPGroup with memreg.mlp.training.train; returns the wall
    time."""
    specs = [ModelSpec(seed=m, c=c) for m, c in enumerate(c_values)]
    group = MLPGroup(Architecture(width=width), specs)
    start = time.perf_counter()
    cfg = TrainConfig(iterations=iterations, save_every=iterations)
    train(group, make_process("vp"), authors_points(), cfg)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    M, n = args.models, args.iterations
    c_values = [[0.0, 1e-4, 1e-3, 1e-2, 1e-1][m % 5] for m in range(M)]
    plain, batched = [], []
    for _ in range(args.repeats):  # interleaved, so that a slow spell hits both
        plain.append(sum(plain_loop(args.width, n, m, c) for m, c in enumerate(c_values)))
        batched.append(batched_loop(args.width, n, c_values))
    rate_plain, rate_batched = M * n / min(plain), M * n / min(batched)
    ratio = rate_batched / rate_plain
    print(f"{M} models, width {args.width}, {n} iterations each, {args.threads} thread(s), "
          f"best of {args.repeats} interleaved runs")  # fmt: skip
    for name, rate, times in (
        ("plain loop", rate_plain, plain),
        ("batched", rate_batched, batched),
    ):
        runs = ", ".join(f"{1e3 * t / (M * n):.2f}" for t in times)
        print(f"{name:<11}: {rate:8.0f} model-iterations/s ({1e3 / rate:.2f} ms each; runs {runs})")
    print(f"speed-up   : {ratio:.1f}x (target >= {TARGET:.0f}x)")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
