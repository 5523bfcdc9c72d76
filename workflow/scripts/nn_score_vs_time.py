"""Snakemake adapter: family H, learned and closed-form score norms against t."""

import numpy as np

from memreg import joblog
from memreg.closed_form.process import make_process
from memreg.io import load_arrays, save_table
from memreg.mlp.evaluation import load_group, score_norms

joblog.start(snakemake)

cfg, process = dict(snakemake.params.curves), make_process(**snakemake.params.process)
group = load_group(snakemake.input.model)[0]
train = load_arrays(snakemake.input.data)[0]["train"]
rng = np.random.default_rng(cfg["seed"])
x_star = train[cfg["point"]] + cfg["perturbation"] * rng.standard_normal(train.shape[1])
table = score_norms(
    group, process, train, x_star, np.geomspace(process.T, cfg["t_min"], cfg["n_t"])
)
save_table(snakemake.output[0], table, {**cfg, "x_star": x_star.tolist()})
