"""Snakemake adapter: family E, limits of starts on a square around a small point set."""

import torch

from memreg import joblog
from memreg.closed_form.dynamics import boundary_study
from memreg.closed_form.process import make_process
from memreg.data import square_boundary_starts
from memreg.io import load_arrays, save_arrays, save_table

joblog.start(snakemake)

torch.set_num_threads(snakemake.threads)
study, process = dict(snakemake.params.study), dict(snakemake.params.process)
train = load_arrays(snakemake.input[0])[0]["train"]
starts = square_boundary_starts(study.pop("half_width"), study.pop("per_side"))
table, paths = boundary_study(train, starts, make_process(**process), **study)
table.insert(0, "dataset", snakemake.params.dataset)
meta = {"process": process, **snakemake.params.study}
save_table(snakemake.output.table, table, meta)
save_arrays(snakemake.output.paths, meta, **paths)
