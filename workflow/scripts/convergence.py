"""Snakemake adapter: family D, convergence in s = -log sigma_hat for one process."""

import torch

from memreg import joblog
from memreg.closed_form.dynamics import convergence_study
from memreg.closed_form.process import make_process
from memreg.io import load_arrays, save_arrays, save_table

joblog.start(snakemake)

torch.set_num_threads(snakemake.threads)
study, process = dict(snakemake.params.study), dict(snakemake.params.process)
train = load_arrays(snakemake.input[0])[0]["train"]
table, curves = convergence_study(train, make_process(**process), **study)
meta = {"process": process, **study}
save_table(snakemake.output.table, table, meta)
save_arrays(snakemake.output.curves, meta, **curves)
