"""Wall time of one figure family of the workflow with `snakemake --cores N`, then of a
no-op rerun, in a fresh temporary directory.

    python benchmarks/bench_workflow.py --family dynamics|regularization|neural|unet
                                        [--preset paper|smoke] [--cores 2]

Targets (paper preset, 2 cores): dynamics (A-E) < 60 s, regularization (F, F', G) < 60 s,
neural (H, I, J) < 90 min; unet (K) < 5 min with --preset smoke (its paper preset is
GPU work); the no-op rerun < 3 s. Exits non-zero when one is missed.
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
FAMILIES = {
    "dynamics": (
        ["data_voronoi", "ve_dynamics", "vp_dynamics", "convergence_s", "voronoi_boundaries"],
        ["results/dynamics/convergence.csv", "results/dynamics/boundaries.csv"],
        60.0,
    ),
    "regularization": (
        [
            "tikhonov_samples",
            "tikhonov_memorization",
            "score_vs_time",
            "consistency_samples",
            "consistency_memorization",
        ],
        ["results/regularization/tikhonov.csv", "results/regularization/consistency.csv"],
        60.0,
    ),
    "neural": (
        [
            "nn_tikhonov_samples",
            "nn_tikhonov_memorization",
            "nn_score_vs_time",
            "nn_early_stopping",
            "nn_width",
        ],
        [
            "results/neural/tikhonov.csv",
            "results/neural/early_stopping.csv",
            "results/neural/width.csv",
        ],
        90 * 60.0,
    ),
    "unet": (
        ["unet_training_images", "unet_samples_vs_steps", "unet_memorization"],
        ["results/unet/memorization.csv"],
        5 * 60.0,
    ),
}
NOOP_TARGET = 3.0


def timed_run(workdir: Path, preset: str, cores: int, targets: list[str]) -> float:
    snakemake = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
    cmd = [
        snakemake,
        *targets,
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
    parser.add_argument("--family", required=True, choices=sorted(FAMILIES))
    parser.add_argument("--preset", default="paper", choices=["paper", "smoke"])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", type=Path, help="run here and keep the outputs")
    args = parser.parse_args()
    figures, tables, target = FAMILIES[args.family]
    targets = [f"figures/{name}.pdf" for name in figures] + tables
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        first = timed_run(workdir, args.preset, args.cores, targets)
        noop = timed_run(workdir, args.preset, args.cores, targets)
    print(
        f"family={args.family} preset={args.preset} cores={args.cores}: "
        f"first run {first:.1f} s (target < {target:.0f} s), "
        f"no-op run {noop:.2f} s (target < {NOOP_TARGET:.0f} s)"
    )
    return 0 if first < target and noop < NOOP_TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
