"""Benchmark: batched `memreg.sampling.sample_ode` against a plain per-sample numpy loop.

Setting: the authors' 20 training points in d = 2 (memreg.data.authors_points), process
ve_talk, 2000 samples, 400 steps of the default exponential integrator (order 2) on the
default time grid (uniform in s = -log sigma_hat), t_min = 1e-6, empirical score (c = 0).

The baseline is the loop a researcher would write first: numpy, one sample at a time, one
step at a time, the same exponential-Heun update, the same time grid
(memreg.sampling.time_grid) and the same float64 log-sum-exp weights. Grid constants
(alpha, sigma^2, Lambda per step) are computed once, outside the loops, which only makes
the baseline faster (the comparison is conservative).

Both start from the same initial noise (memreg.sampling.initial_noise) and must give the
same samples to 1e-10 (max abs difference). The library is timed as the best of a few
repeats; the baseline runs once, sample by sample, until all samples are done or its time
budget (~60 s) is spent, and is then scaled up linearly to all samples (this is printed).

Target: speed-up >= 20x. Exit status 1 if the target is missed or the samples differ.

Run:  python benchmarks/bench_sampling.py [--budget SECONDS] [--repeats R]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
import torch

from memreg.data import authors_points
from memreg.process import make_process
from memreg.sampling import initial_noise, sample_ode, time_grid
from memreg.score import EmpiricalScore

N_SAMPLES = 2000
N_TRAIN = 20
DIM = 2
N_STEPS = 400
PROCESS = "ve_talk"
T_MIN = 1e-6
SEED = 0
TARGET_SPEEDUP = 20.0
TOLERANCE = 1e-10


def baseline_denoiser(x, train, alpha, sigma2):
    """D(x, t) = sum_n w_n x_n for one sample x of shape (d,), float64 log-sum-exp weights."""
    diff = x - alpha * train
    logits = -np.sum(diff * diff, axis=1) / (2.0 * sigma2)
    p = np.exp(logits - np.max(logits))
    return (p @ train) / np.sum(p)


def baseline_sample(x, train, alpha, sigma2, lam):
    """Exponential integrator, order 2 (exponential Heun), for one sample x of shape (d,)."""
    for k in range(len(lam)):
        y = x / alpha[k]
        decay = np.exp(-lam[k])
        d0 = baseline_denoiser(x, train, alpha[k], sigma2[k])
        y1 = d0 + (y - d0) * decay
        d1 = baseline_denoiser(alpha[k + 1] * y1, train, alpha[k + 1], sigma2[k + 1])
        y1 = y1 + (d1 - d0) * (1.0 + np.expm1(-lam[k]) / lam[k])
        x = alpha[k + 1] * y1
    return x


def run_baseline(x_init, train, process, t, budget_s):
    """Samples one at a time until done or ``budget_s`` is spent: (samples, seconds)."""
    alpha = np.asarray(process.alpha(t), dtype=np.float64)
    sigma2 = np.asarray(process.sigma2(t), dtype=np.float64)
    s = np.asarray(process.s_of_t(t), dtype=np.float64)
    lam = np.diff(s)  # Lambda = s_{k+1} - s_k without regularization (c = 0)
    out = []
    start = time.perf_counter()
    for i in range(len(x_init)):
        out.append(baseline_sample(x_init[i].copy(), train, alpha, sigma2, lam))
        if time.perf_counter() - start > budget_s:
            break
    return np.stack(out), time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="time budget of the baseline in seconds (default 60)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="repeats of the library run; the best is kept (default 5)",
    )
    args = parser.parse_args(argv)

    train = authors_points(n=N_TRAIN, dim=DIM)
    process = make_process(PROCESS)
    score = EmpiricalScore(train, process=PROCESS)
    t = time_grid(process, N_STEPS, T_MIN)
    x_init = initial_noise(N_SAMPLES, DIM, SEED, process).numpy()

    print("bench_sampling: sample_ode (exponential, order 2) vs plain per-sample numpy loop")
    print(
        f"  python {platform.python_version()}, torch {torch.__version__}, numpy "
        f"{np.__version__}, torch threads {torch.get_num_threads()}"
    )
    print(
        f"  load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs"
    )
    if os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1):
        print(
            "  WARNING: the machine is busy (1-min load > CPUs/2); timings are unreliable, "
            "the multi-threaded library run suffers most"
        )
    print(
        f"  process {PROCESS}, N = {N_TRAIN}, d = {DIM}, samples = {N_SAMPLES}, "
        f"steps = {N_STEPS}, t_min = {T_MIN:g}"
    )

    lib_times = []
    lib = None
    for _ in range(max(1, args.repeats)):
        start = time.perf_counter()
        lib = sample_ode(score, x_init=x_init, t_min=T_MIN, n_steps=N_STEPS)
        lib_times.append(time.perf_counter() - start)
    lib_best = min(lib_times)
    print(
        f"  library  : best of {len(lib_times)}: {lib_best:.3f} s "
        f"(all: {', '.join(f'{v:.3f}' for v in lib_times)})"
    )

    base, base_s = run_baseline(x_init, train, process, t, args.budget)
    done = len(base)
    if done < N_SAMPLES:
        base_full = base_s * N_SAMPLES / done
        print(
            f"  baseline : {base_s:.1f} s for {done} of {N_SAMPLES} samples (budget "
            f"{args.budget:g} s reached); scaled up linearly to {N_SAMPLES}: {base_full:.1f} s"
        )
    else:
        base_full = base_s
        print(f"  baseline : {base_s:.1f} s for all {N_SAMPLES} samples (one run)")

    err = float(np.max(np.abs(base - lib[:done])))
    same = err <= TOLERANCE
    print(
        f"  max |baseline - library| over {done} samples: {err:.3e} "
        f"(tolerance {TOLERANCE:g}): {'OK' if same else 'MISMATCH'}"
    )

    speedup = base_full / lib_best
    hit = speedup >= TARGET_SPEEDUP
    print(
        f"  speed-up : {speedup:.1f}x (target >= {TARGET_SPEEDUP:g}x): {'PASS' if hit else 'FAIL'}"
    )
    return 0 if (hit and same) else 1


if __name__ == "__main__":
    sys.exit(main())
