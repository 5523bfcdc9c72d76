"""Snakemake adapter: families B/C, probability-flow trajectories for one process."""

import torch

from memreg import joblog
from memreg.closed_form.dynamics import trajectory_study
from memreg.closed_form.process import make_process
from memreg.io import load_arrays, save_arrays

joblog.start(snakemake)

torch.set_num_threads(snakemake.threads)
study, process = dict(snakemake.params.study), dict(snakemake.params.process)
train = load_arrays(snakemake.input[0])[0]["train"]
arrays = trajectory_study(train, make_process(**process), **study)
save_arrays(snakemake.output[0], meta={"process": process, **study}, **arrays)
