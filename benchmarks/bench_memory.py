"""Benchmark: peak memory (RSS) and wall time of one EmpiricalScore evaluation at scale.

Setting: N = 50,000 training points in d = 3,072 (memreg.data.gaussian_samples, float64,
1.23 GB), a batch of B = 64 queries (noised training points at the same t), process
ve_talk, t = 0.5; one evaluation of the score s(x, t) and one of the denoiser D(x, t),
with the default chunk size (memreg.closed_form.score.DEFAULT_CHUNK_BYTES).

Memory is the resident set size (RSS) of a fresh subprocess (this script re-runs itself
with --child), read from /proc/self/status:
  * VmRSS before building the data, after building it, and before the evaluations;
  * the peak (VmHWM) during each evaluation: the high-water mark is reset to the current
    RSS just before the evaluation by writing "5" to /proc/self/clear_refs, so the
    transient of building the data does not count; a thread polling /proc/self/statm
    every ~2 ms gives an independent (lower-bound) cross-check;
  * ru_maxrss (resource.getrusage) at the end: the lifetime peak of the subprocess,
    which includes building the data.

Target: peak RSS during the evaluation below 2 GiB. Exit status 1 if missed (or if the
result is not finite / score and denoiser disagree).

The unchunked evaluation (chunk_bytes huge) is not run: its (B, N, d) difference tensor
alone would take B*N*d*8 bytes (~78.6 GB); the script prints that size.

Run:  python benchmarks/bench_memory.py [--chunk-bytes BYTES]
"""

from __future__ import annotations

import os
import subprocess
import sys

from measure import hwm, reset_hwm, rss

N_TRAIN = 50_000
DIM = 3_072
BATCH = 64
T_EVAL = 0.5
SEED = 0
PROCESS = "ve_talk"
TARGET_BYTES = 2 * 2**30

MiB = 2**20
GiB = 2**30


class Poller:
    """Polls RSS from /proc/self/statm in a thread; ``peak`` is the largest value seen."""

    def __init__(self, interval: float = 0.002) -> None:
        import threading

        self.interval = interval
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with open("/proc/self/statm") as fh:
            while not self._stop.is_set():
                fh.seek(0)
                self.peak = max(self.peak, int(fh.read().split()[1]) * self.page)
                self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def fmt(nbytes: float) -> str:
    return f"{nbytes / MiB:9.1f} MiB ({nbytes / GiB:.3f} GiB)"


def measured(label, fn, can_reset):
    """Run fn() once; return (result, seconds, peak_hwm or None, peak_polled, rss_before)."""
    import time

    before = rss()
    reset_ok = can_reset and reset_hwm()
    with Poller() as poll:
        start = time.perf_counter()
        out = fn()
        secs = time.perf_counter() - start
    peak = hwm() if reset_ok else None
    print(f"  {label}: {secs:.2f} s")
    return out, secs, peak, max(poll.peak, before), before


def child(chunk_bytes: int | None) -> int:
    import resource

    r0 = rss()
    import numpy as np
    import torch

    from memreg.closed_form.process import make_process
    from memreg.closed_form.score import DEFAULT_CHUNK_BYTES, EmpiricalScore
    from memreg.data import gaussian_samples

    chunk_bytes = DEFAULT_CHUNK_BYTES if chunk_bytes is None else chunk_bytes

    r_import = rss()
    print("bench_memory: EmpiricalScore, one evaluation, peak RSS")
    print(
        f"  torch {torch.__version__}, numpy {np.__version__}, "
        f"torch threads {torch.get_num_threads()}, load average "
        f"{' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs"
    )
    if os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1):
        print(
            "  WARNING: the machine is busy (1-min load > CPUs/2); wall times are unreliable "
            "(memory is not affected)"
        )
    default = " (default)" if chunk_bytes == DEFAULT_CHUNK_BYTES else ""
    print(
        f"  N = {N_TRAIN}, d = {DIM}, B = {BATCH}, process {PROCESS}, t = {T_EVAL}, "
        f"float64, chunk_bytes = {chunk_bytes} ({chunk_bytes / MiB:g} MiB){default}"
    )

    can_reset = reset_hwm()
    r_before = rss()
    train = gaussian_samples(N_TRAIN, DIM, SEED)
    r_after = rss()
    hwm_build = hwm() if can_reset else None

    score = EmpiricalScore(train, process=PROCESS, chunk_bytes=chunk_bytes)
    print(
        f"  form {score.form!r} (memreg.closed_form.score; "
        "bench_denoiser.py times it against the GEMM)"
    )
    shared = score.train.data_ptr() == train.ctypes.data
    proc = make_process(PROCESS)
    gen = torch.Generator().manual_seed(SEED + 1)
    eps = torch.randn(BATCH, DIM, generator=gen, dtype=torch.float64)
    x = float(proc.alpha(T_EVAL)) * score.train[:BATCH] + float(proc.sigma(T_EVAL)) * eps
    r_ready = rss()

    print("  wall time of one evaluation:")
    s, s_secs, s_peak, s_poll, s_before = measured(
        "score    s(x, t)", lambda: score(x, T_EVAL), can_reset
    )
    d_out, d_secs, d_peak, d_poll, d_before = measured(
        "denoiser D(x, t)", lambda: score.denoiser(x, T_EVAL), can_reset
    )
    ru_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    data_bytes = train.nbytes
    print("  memory (resident set size):")
    print(f"    at start (python only)            {fmt(r0)}")
    print(f"    after importing torch + memreg    {fmt(r_import)}")
    print(f"    before building the data          {fmt(r_before)}")
    print(
        f"    after building the data           {fmt(r_after)}"
        f"   [training set {data_bytes / 1e9:.2f} GB]"
    )
    if hwm_build is not None:
        print(f"    peak while building the data      {fmt(hwm_build)}")
    print(f"    EmpiricalScore shares the array   {'yes (no copy)' if shared else 'NO (copied)'}")
    print(f"    before the evaluations            {fmt(r_ready)}")
    for label, peak, poll, before in (
        ("score   ", s_peak, s_poll, s_before),
        ("denoiser", d_peak, d_poll, d_before),
    ):
        if peak is not None:
            print(
                f"    peak during {label} (VmHWM)     {fmt(peak)}"
                f"   overhead {(peak - before) / MiB:.1f} MiB"
            )
        print(f"    peak during {label} (polled)    {fmt(poll)}")
    print(f"    ru_maxrss at exit (lifetime)      {fmt(ru_max)}")

    rows = max(1, chunk_bytes // (BATCH * DIM * 8))
    n_chunks = -(-N_TRAIN // rows)
    full = BATCH * N_TRAIN * DIM * 8
    print("  why chunking matters (not run):")
    print(
        f"    chunked:   {rows} training points per chunk, {n_chunks} chunks, difference "
        f"tensor (B, {rows}, d) = {BATCH * rows * DIM * 8 / MiB:.1f} MiB"
    )
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    print(
        f"    unchunked: difference tensor (B, N, d) = {BATCH}*{N_TRAIN}*{DIM}*8 B = "
        f"{full / 1e9:.1f} GB ({full / GiB:.1f} GiB); this machine has "
        f"{ram / GiB:.1f} GiB of RAM"
    )

    ok = True
    if not (torch.isfinite(s).all() and torch.isfinite(d_out).all()):
        print("  result: NOT FINITE")
        ok = False
    alpha, sigma2 = float(proc.alpha(T_EVAL)), float(proc.sigma2(T_EVAL))
    consist = float(((alpha * d_out - x) / sigma2 - s).abs().max())
    recover = float((d_out - score.train[:BATCH]).abs().max())
    print(
        f"  check: max |(alpha D - x)/sigma^2 - s| = {consist:.2e}; "
        f"max |D(x_n + sigma eps) - x_n| = {recover:.2e} (nearest-neighbour regime)"
    )
    if not consist <= 1e-10:
        ok = False

    peaks = [p for p in (s_peak, d_peak) if p is not None] or [s_poll, d_poll]
    peak = max(peaks)
    hit = peak < TARGET_BYTES
    print(
        f"  peak RSS during evaluation: {peak / GiB:.3f} GiB (target < "
        f"{TARGET_BYTES / GiB:g} GiB): {'PASS' if hit else 'FAIL'}"
    )
    return 0 if (hit and ok) else 1


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--chunk-bytes",
        type=int,
        default=None,
        help="EmpiricalScore chunk_bytes (default: memreg's DEFAULT_CHUNK_BYTES)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.chunk_bytes)
    # Fresh subprocess, so that nothing from this interpreter counts towards its RSS.
    cmd = [sys.executable, os.path.abspath(__file__), "--child"]
    if args.chunk_bytes is not None:
        cmd += ["--chunk-bytes", str(args.chunk_bytes)]
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
