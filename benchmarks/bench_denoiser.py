"""Benchmark: one image-scale evaluation of the empirical denoiser against the matrix
product of the same shapes, with its peak memory and its error against direct differences.

Setting: N = 50,000 training points in d = 3,072 (a CIFAR-sized empirical score;
memreg.data.gaussian_samples, float64, 1.23 GB), a batch of B = 64 queries, float64, the
default form ("expansion" for d >= 16: logits from x @ train.T, the few that can carry
weight recomputed from direct differences; memreg.closed_form.score) and chunk size. Queries are
noised training points alpha x_n + sigma eps at sigma = 1e-3 and 0.5 (process ve_talk) and
sigma = 80 (ve with base 1e4, so that sigma = 80 lies inside (0, T]).

Timed, each the best of ``--repeats``: the float64 GEMM (64 x 3072) @ (3072 x 50,000) and
``score.denoiser(x, t)``. Peak memory: the resident set size high-water mark (VmHWM, reset
before each evaluation via /proc/self/clear_refs), which includes the 1.23 GB of data.
Accuracy: on 4 of the 64 rows, max |D - D_direct| / max_n |x_n| against form="direct"
(direct differences |x - alpha x_n|^2, chunked).

Targets: denoiser time <= 3x the GEMM time, peak RSS < 2 GiB, error <= 1e-10 at every
sigma. Exit status 1 if a target is missed.

Run:  OMP_NUM_THREADS=2 python benchmarks/bench_denoiser.py [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
from measure import best_of, hwm, reset_hwm

from memreg.closed_form.process import make_process
from memreg.closed_form.score import EmpiricalScore
from memreg.data import gaussian_samples

N_TRAIN = 50_000
DIM = 3_072
BATCH = 64
SEED = 0
CASES = (("ve_talk", {}, 1e-3), ("ve_talk", {}, 0.5), ("ve", {"base": 1e4}, 80.0))
TARGET_RATIO = 3.0
TARGET_BYTES = 2 * 2**30
TARGET_ERROR = 1e-10
GiB = 2**30


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="best of R runs (default 3)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print("bench_denoiser: EmpiricalScore.denoiser at image scale against the float64 GEMM")
    print(
        f"  torch {torch.__version__}, torch threads {torch.get_num_threads()}, load average "
        f"{' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs"
    )
    train = torch.as_tensor(gaussian_samples(N_TRAIN, DIM, SEED))
    scale = float(train.norm(dim=1).max())
    gen = torch.Generator().manual_seed(SEED + 1)
    eps = torch.randn(BATCH, DIM, generator=gen, dtype=torch.float64)
    x = train[:BATCH] + eps
    _, gemm, gemm_all = best_of(lambda: x @ train.T, args.repeats)
    print(
        f"  N = {N_TRAIN}, d = {DIM}, B = {BATCH}, float64; data {train.numel() * 8 / 1e9:.2f} GB"
        f", max |x_n| = {scale:.1f}"
    )
    print(
        f"  GEMM (B x d) @ (d x N): best {gemm:.3f} s "
        f"(all: {', '.join(f'{v:.3f}' for v in gemm_all)})"
    )
    print("  | sigma | denoiser (s) | / GEMM | peak RSS (GiB) | error vs direct |")
    print("  |---|---|---|---|---|")
    can_reset = reset_hwm()
    ok = True
    for name, params, sigma in CASES:
        proc = make_process(name, **params)
        t = float(proc.t_of_sigma_hat(sigma))
        score = EmpiricalScore(train, process=proc)
        alpha, sig = float(proc.alpha(t)), float(proc.sigma(t))
        xq = alpha * train[:BATCH] + sig * eps
        reset_hwm()  # the first call also computes |x_n|^2 (by chunks): counted
        out, secs, _ = best_of(lambda score=score, xq=xq, t=t: score.denoiser(xq, t), args.repeats)
        peak = hwm() if can_reset else float("nan")
        direct = EmpiricalScore(train, process=proc, form="direct").denoiser(xq[:4], t)
        err = float((out[:4] - direct).abs().max()) / scale
        ratio = secs / gemm
        print(f"  | {sigma:g} | {secs:.3f} | {ratio:.2f}x | {peak / GiB:.3f} | {err:.1e} |")
        ok &= ratio <= TARGET_RATIO and peak < TARGET_BYTES and err <= TARGET_ERROR
    print(f"  load average at end {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(
        f"  targets (<= {TARGET_RATIO:g}x GEMM, < 2 GiB, error <= {TARGET_ERROR:g}): "
        f"{'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
