"""Snakemake adapter: sample and score every network of a trained study at every snapshot."""

import numpy as np
import torch

from memreg import joblog
from memreg.closed_form.process import make_process
from memreg.io import load_arrays, save_arrays, save_table
from memreg.mlp.evaluation import evaluate_snapshots, load_group

joblog.start(snakemake)

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
    n_samples=p.sampling["n_samples"],
    seed=p.sampling["seed"],
    n_steps=p.sampling["n_steps"],
    t_eps=p.t_eps,  # the singular networks' end (memreg.mlp.evaluation.sampling_ends)
    final_steps=p.sampling["final_steps"],
    deltas=list(p.deltas),
    n_boot=p.n_boot,
    error_t_range=(err["t_min"], err["t_max"]),
    error_points=err["n_points"],
)
meta = {"sampling": p.sampling, "t_eps": p.t_eps, "deltas": list(p.deltas), "score_error": err}
save_table(snakemake.output.table, table, meta)
iterations = np.array(sorted(samples))
save_arrays(
    snakemake.output.samples,
    meta,
    iterations=iterations,
    train=train,
    samples=np.stack([samples[k] for k in iterations]),
)
