"""Shared measuring helpers of the benchmark scripts: best-of-k wall time (alone, or of
several methods in turn), and the process's resident memory (current, peak, peak reset)
from /proc/self (Linux)."""

from __future__ import annotations

import time


def best_of(fn, repeats: int):
    """(the last result, the fastest of ``repeats`` wall times, all the times) of ``fn()``."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, min(times), times


def interleaved(methods: dict, repeats: int) -> dict:
    """{name: (the last result, the fastest wall time)} of the callables in ``methods``, run
    in turn for ``repeats`` rounds, so that every one meets the same spells of load on a
    shared machine."""
    times = {name: [] for name in methods}
    results = {}
    for _ in range(repeats):
        for name, fn in methods.items():
            results[name], secs, _ = best_of(fn, 1)
            times[name].append(secs)
    return {name: (results[name], min(times[name])) for name in methods}


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def rss() -> int:
    """Current resident set size in bytes."""
    return _status_kib("VmRSS") * 1024


def hwm() -> int:
    """Peak resident set size (high-water mark) in bytes since start or the last reset."""
    return _status_kib("VmHWM") * 1024


def reset_hwm() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if not permitted."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True
