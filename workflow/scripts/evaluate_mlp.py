"""Snakemake adapter: sample and score every network of a trained study at every snapshot."""

import numpy as np
import torch

from memreg.closed_form.process import make_process
from memreg.io import load_arrays, save_arrays, save_table
from memreg.mlp.evaluation import evaluate_snapshots, load_group

torch.set_num_threads(snakemake.threads)
p = snakemake.params
group, snapshots, _, _ = load_group(snakemake.input.model)
train = load_arrays(snakemake.input.data)[0]["train"]
err = p.score_error
table, samples = evaluate_snapshots(
    group,
    snapshots,
    make_process(**p.process),
    train,
    p.sampling["n_samples"],
    p.sampling["seed"],
    p.sampling["t_min"],
    p.sampling["n_steps"],
    list(p.deltas),
    p.n_boot,
    error_t_range=(err["t_min"], err["t_max"]),
    error_points=err["n_points"],
)
meta = {"sampling": p.sampling, "deltas": list(p.deltas), "score_error": err}
save_table(snakemake.output.table, table, meta)
iterations = np.array(sorted(samples))
save_arrays(
    snakemake.output.samples,
    meta,
    iterations=iterations,
    train=train,
    samples=np.stack([samples[k] for k in iterations]),
)
