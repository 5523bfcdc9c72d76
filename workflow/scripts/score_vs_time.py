"""Snakemake adapter: family F', |s_c(x*, t)| against t."""

import numpy as np

from memreg import joblog
from memreg.closed_form.process import make_process
from memreg.closed_form.regularization import score_norm_curves
from memreg.io import load_arrays, save_table

joblog.start(snakemake)

cfg, process = dict(snakemake.params.curves), make_process(**snakemake.params.process)
train = load_arrays(snakemake.input[0])[0]["train"]
t = np.geomspace(process.T, cfg["t_min"], cfg["n_t"])
table = score_norm_curves(train, np.asarray(cfg["x_star"]), cfg["c"], process, t)
save_table(snakemake.output[0], table, {"process": dict(snakemake.params.process), **cfg})
