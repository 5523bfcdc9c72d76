"""Wall time of the workflow (families A-E) with `snakemake --cores N`, then of a no-op rerun.

    python benchmarks/bench_workflow.py [--preset paper|smoke] [--cores 2]

Runs in a fresh temporary directory; exits non-zero when a target is missed
(paper preset: < 60 s for the first run, < 3 s for the no-op run).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"paper": 60.0, "smoke": 60.0}
NOOP_TARGET = 3.0


def timed_run(workdir: Path, preset: str, cores: int) -> float:
    snakemake = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
    cmd = [
        snakemake,
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        "--cores",
        str(cores),
        "--quiet",
        "--config",
        f"preset={preset}",
    ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper", choices=sorted(TARGETS))
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        first = timed_run(Path(tmp), args.preset, args.cores)
        noop = timed_run(Path(tmp), args.preset, args.cores)
    target = TARGETS[args.preset]
    print(
        f"preset={args.preset} cores={args.cores}: "
        f"first run {first:.1f} s (target < {target:.0f} s),"
        f" no-op run {noop:.2f} s (target < {NOOP_TARGET:.0f} s)"
    )
    return 0 if first < target and noop < NOOP_TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
