"""Benchmark: `memreg.closed_form.sampling.sample_ode` against the solvers a user would
pick instead.

Setting: the authors' 20 training points in d = 2 (memreg.data.authors_points), process
ve_talk, 2000 samples from the same initial noise (memreg.closed_form.sampling.initial_noise,
seed 0), t from T = 1 down to t_min = 1e-6, for c = 0 (empirical score) and c = 1e-4
(Tikhonov).
Timed in one run, the four in turn for ``--repeats`` rounds, each its fastest:

* rk45: scipy solve_ivp RK45 on the probability-flow ODE in t, all samples as one
  flattened system, rtol = atol = 1e-5 (how the authors integrate), right-hand side in
  float64 numpy with log-sum-exp weights, dx/dt = -(g2/2) (D - x) / (sigma^2 + c).
* numpy-400: a vectorized numpy loop of the exponential-Heun update over all samples at
  once, 400 steps on the library's default grid (uniform in s = -log sigma).
* library default: ``sample_ode(score, x_init=x0)`` (adaptive, no options).
* library 400: ``sample_ode(score, x_init=x0, n_steps=400)`` (the fixed grid).

Accuracy: per-sample endpoint error |x - x_ref| against a reference integrated by DOP853
in s = -log sigma (dy/ds = -lambda(s) (y - D), flattened system) at rtol = atol = 1e-13;
reported as p50, p99 and p99.9. The floor of that reference is shown as the error of a
second one, DOP853 in t at rtol = atol = 1e-11 (the issue's reference), against it.

Targets: library default >= 5x faster than rk45 with p50, p99 and p99.9 no larger, and
>= 20x faster than numpy-400, for both c. Exit status 1 if a target is missed.

Run:  OMP_NUM_THREADS=2 python benchmarks/bench_sampling.py [--threads 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import numpy as np
import scipy
import torch
from measure import interleaved
from scipy.integrate import solve_ivp

from memreg.closed_form.process import make_process
from memreg.closed_form.reference import empirical_denoiser, reference_in_s
from memreg.closed_form.sampling import initial_noise, lambda_integral, sample_ode, time_grid
from memreg.closed_form.score import EmpiricalScore
from memreg.data import authors_points

N_SAMPLES = 2000
N_STEPS = 400
PROCESS = "ve_talk"
T_MIN = 1e-6
SEED = 0
C_VALUES = (0.0, 1e-4)
SPEEDUP_RK45 = 5.0
SPEEDUP_NUMPY = 20.0
PERCENTILES = (50.0, 99.0, 99.9)


def rk45(x0, train, proc, c, rtol=1e-5, method="RK45"):
    """solve_ivp on dx/dt = f x - (g2/2) (alpha D - x) / (sigma^2 + c), flattened: (x, evals)."""
    n, d = x0.shape

    def rhs(t, flat):
        x = flat.reshape(n, d)
        a, s2 = float(proc.alpha(t)), float(proc.sigma2(t))
        score = (a * empirical_denoiser(x, train, a, s2) - x) / (s2 + c)
        return (float(proc.f(t)) * x - 0.5 * float(proc.g2(t)) * score).ravel()

    sol = solve_ivp(rhs, (proc.T, T_MIN), x0.ravel(), method=method, rtol=rtol, atol=rtol)
    assert sol.success, sol.message
    return sol.y[:, -1].reshape(n, d), sol.nfev


def numpy_loop(x0, train, proc, c, t):
    """Exponential Heun on the grid t, all samples at once, numpy float64."""
    alpha, sigma2, s = proc.alpha(t), proc.sigma2(t), proc.s_of_t(t)
    x = x0.copy()
    for k in range(len(t) - 1):
        lam = lambda_integral(proc, c, float(s[k]), float(s[k + 1]))
        y = x / alpha[k]
        d0 = empirical_denoiser(x, train, alpha[k], sigma2[k])
        y1 = d0 + (y - d0) * np.exp(-lam)
        d1 = empirical_denoiser(alpha[k + 1] * y1, train, alpha[k + 1], sigma2[k + 1])
        x = alpha[k + 1] * (y1 + (d1 - d0) * (1.0 + np.expm1(-lam) / lam))
    return x


def evaluations_per_sample(score, x0):
    """Denoiser rows evaluated by ``sample_ode(score, x_init=x0)`` per sample (an untimed
    run with counting wrappers on the adaptive default's two calls, ``scaled_denoiser`` and
    ``scaled_denoiser_and_nearest``)."""
    rows = [0]

    def counted(method):
        def call(y, sigma_hat2):
            rows[0] += y.shape[0]
            return method(y, sigma_hat2)

        return call

    names = ("scaled_denoiser", "scaled_denoiser_and_nearest")
    for name in names:
        setattr(score, name, counted(getattr(score, name)))
    try:
        sample_ode(score, x_init=x0)
    finally:
        for name in names:
            delattr(score, name)
    return rows[0] / len(x0)


def errors(x, ref):
    return np.percentile(np.linalg.norm(x - ref, axis=1), PERCENTILES)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--repeats", type=int, default=5, help="best of R runs (default 5)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    train = authors_points()
    proc = make_process(PROCESS)
    x0 = initial_noise(N_SAMPLES, train.shape[1], SEED, proc).numpy()
    grid = time_grid(proc, N_STEPS, T_MIN)
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print("bench_sampling: sample_ode against batched RK45 and a vectorized numpy loop")
    print(
        f"  python {platform.python_version()}, torch {torch.__version__}, numpy "
        f"{np.__version__}, scipy {scipy.__version__}, torch threads "
        f"{torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
    )
    print(f"  load average at start {load} on {os.cpu_count()} CPUs")
    print(
        f"  process {PROCESS}, N = {len(train)}, d = {train.shape[1]}, samples = {N_SAMPLES}, "
        f"t from {proc.T:g} to {T_MIN:g}, best of {args.repeats}"
    )
    ok = True
    for c in C_VALUES:
        score = EmpiricalScore(train, c=c, process=proc)
        ref = reference_in_s(x0, train, proc, c, t_min=T_MIN, tol=1e-13)
        ref_t, _ = rk45(x0, train, proc, c, rtol=1e-11, method="DOP853")
        methods = {
            "rk45 (rtol = atol = 1e-5)": lambda c=c: rk45(x0, train, proc, c),
            "numpy loop, 400 steps": lambda c=c: numpy_loop(x0, train, proc, c, grid),
            "library default": lambda score=score: sample_ode(score, x_init=x0),
            "library, 400 steps": lambda score=score: sample_ode(score, x_init=x0, n_steps=N_STEPS),
        }
        results = interleaved(methods, args.repeats)
        (x, nfev), secs = results["rk45 (rtol = atol = 1e-5)"]
        rows = {"rk45 (rtol = atol = 1e-5)": (secs, errors(x, ref), f"{nfev} evaluations")}
        x, secs = results["numpy loop, 400 steps"]
        rows["numpy loop, 400 steps"] = (secs, errors(x, ref), "800 evaluations")
        x, secs = results["library default"]
        per_sample = evaluations_per_sample(score, x0)
        rows["library default"] = (secs, errors(x, ref), f"{per_sample:.0f} evaluations per sample")
        x, secs = results["library, 400 steps"]
        rows["library, 400 steps"] = (secs, errors(x, ref), "800 evaluations")
        print(
            f"\n  c = {c:g}; reference floor (DOP853 in t at 1e-11 vs in s at 1e-13): "
            f"p50/p99/p99.9 = {' / '.join(f'{e:.1e}' for e in errors(ref_t, ref))}"
        )
        print("  | method | time (s) | p50 | p99 | p99.9 | note |")
        print("  |---|---|---|---|---|---|")
        for name, (secs, err, note) in rows.items():
            e = " | ".join(f"{v:.1e}" for v in err)
            print(f"  | {name} | {secs:.4f} | {e} | {note} |")
        lib_s, lib_e, _ = rows["library default"]
        rk_s, rk_e, _ = rows["rk45 (rtol = atol = 1e-5)"]
        np_s = rows["numpy loop, 400 steps"][0]
        vs_rk, vs_np = rk_s / lib_s, np_s / lib_s
        acc = bool(np.all(lib_e <= rk_e))
        print(
            f"  speed-up of the default: {vs_rk:.1f}x over rk45 (target >= {SPEEDUP_RK45:g}x), "
            f"{vs_np:.1f}x over the numpy loop (target >= {SPEEDUP_NUMPY:g}x); "
            f"{rows['library, 400 steps'][0] and np_s / rows['library, 400 steps'][0]:.1f}x "
            f"numpy loop / library 400 steps; accuracy no worse than rk45: "
            f"{'yes' if acc else 'NO'}"
        )
        ok &= vs_rk >= SPEEDUP_RK45 and vs_np >= SPEEDUP_NUMPY and acc
    print(f"\n  load average at end {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"  all targets: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
