"""Family K's CPU scale model: candidate scales of the authors' protocol, measured over seeds.

    python benchmarks/bench_unet_scale.py --candidate A --sizes 4 8 12 16 --seeds 0 1 \
        [--dataset n2] [--workers 2] [--out benchmarks/scale_runs.csv]

Each candidate is the authors' protocol (batch 1, pixel values {0, 1}, float32, gradient
clean-up, their EMA rule, a learning rate that grows linearly from 0 through the whole run)
at a small image size with a short run and a compressed ramp (``CANDIDATES``). Every
(size, seed) is one ``memreg.unet.training.train_unet`` run, one thread each, ``--workers``
at a time (as the workflow's default preset runs them on two cores). Per run the table gets
the epoch of the first evaluation with fraction memorized >= 0.5 and >= 0.9 (inf: never),
the mean fraction over the last 10 % of the evaluations and the wall time; per size the
median and range over seeds are printed.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

from memreg.data import scale_squares, square_images
from memreg.outputs import summary
from memreg.unet.network import UNetConfig
from memreg.unet.training import EvalConfig, UNetTrainConfig, train_unet

ROOT = Path(__file__).resolve().parents[1]

# name -> (resolution, images per training, lr_rampup_images, eval_every); the largest
# learning rate reached is 1e-3 images / lr_rampup_images
CANDIDATES = {
    "A": (16, 4000, 40_000, 200),  # lr up to 1e-4
    "B": (16, 4000, 20_000, 200),  # lr up to 2e-4 (the default preset)
}
N_EVAL, N_STEPS = 100, 18  # binomial standard error <= 0.05; Heun steps as the default preset


def one_run(job: tuple) -> dict:
    candidate, dataset, channels, seed = job
    torch.set_num_threads(1)
    resolution, images, rampup, every = CANDIDATES[candidate]
    config = yaml.safe_load((ROOT / "config.yaml").read_text())["unet"]
    squares = scale_squares(config["datasets"][dataset], resolution / config["squares_resolution"])
    data = square_images(squares, resolution)
    arch = UNetConfig(resolution=resolution, model_channels=channels,
                      attn_resolutions=(resolution // 4,))  # fmt: skip
    evaluation = EvalConfig(n_eval=N_EVAL, n_grid=1, n_steps=N_STEPS, n_boot=200)
    train = UNetTrainConfig(images=images, lr_rampup_images=rampup, eval_every=every,
                            checkpoint_every=images, log_every=every, seed=seed,
                            evaluation=evaluation)  # fmt: skip
    start = time.perf_counter()
    run = train_unet(data, arch, train)
    seconds = time.perf_counter() - start
    # the workflow's own summaries of one run (memreg.outputs.summary), as the claims read them
    rows = pd.DataFrame(run.evaluations).assign(dataset=dataset, n_train=len(data),
                                                model_channels=channels, seed=seed,
                                                n_params=run.n_params)  # fmt: skip
    first = {level: float(summary.first_reaching(rows, level, "epoch")["value"].iloc[0])
             for level in (0.5, 0.9)}  # fmt: skip
    final = float(summary.unet_final_mean(rows, 0.1)["value"].iloc[0])
    row = {
        "candidate": candidate, "dataset": dataset, "model_channels": channels, "seed": seed,
        "n_params": run.n_params, "epochs_to_0.5": first[0.5], "epochs_to_0.9": first[0.9],
        "final_window_mean": final, "seconds": round(seconds, 1),
        "curve": " ".join(f"{f:.2f}" for f in rows["fraction_memorized"]),
    }  # fmt: skip
    print({k: v for k, v in row.items() if k != "curve"}, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidate", nargs="+", default=["A"], choices=sorted(CANDIDATES))
    parser.add_argument("--dataset", default="n2")
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 12, 16])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/scale_runs.csv")
    args = parser.parse_args()
    # the longest runs first, so that the workers end together
    jobs = [(c, args.dataset, s, seed) for c in args.candidate for s in sorted(args.sizes)[::-1]
            for seed in args.seeds]  # fmt: skip
    start = time.perf_counter()
    with mp.get_context("spawn").Pool(args.workers) as pool:
        rows = pool.map(one_run, jobs, chunksize=1)
    wall = time.perf_counter() - start
    table = pd.DataFrame(rows)
    out = Path(args.out)
    table.to_csv(out, mode="a", header=not out.exists(), index=False)
    summary = table.groupby(["candidate", "model_channels"]).agg(
        seeds=("seed", "size"),
        median_epochs_05=("epochs_to_0.5", "median"),
        min_epochs_05=("epochs_to_0.5", "min"),
        max_epochs_05=("epochs_to_0.5", "max"),
        median_final=("final_window_mean", "median"),
        core_seconds=("seconds", "sum"),
    )
    print(summary.to_string())
    print(f"wall time {wall:.0f} s with {args.workers} workers; rows appended to {out}")


if __name__ == "__main__":
    main()
