"""Snakemake adapter: families F/G, samples of one regularized closed-form score."""

import pandas as pd
import torch

from memreg import joblog
from memreg.closed_form.process import make_process
from memreg.closed_form.regularization import sampling_study
from memreg.io import load_arrays, save_arrays, save_table

joblog.start(snakemake)

torch.set_num_threads(snakemake.threads)
spec, process = dict(snakemake.params.spec), dict(snakemake.params.process)
study = dict(snakemake.params.study)
train = load_arrays(snakemake.input[0])[0]["train"]
row, samples, predicted = sampling_study(train, spec, make_process(**process), **study)
meta = {"score": spec, "process": process, **study}
save_table(snakemake.output.row, pd.DataFrame([row]), meta)
save_arrays(snakemake.output.samples, meta, samples=samples, predicted=predicted, train=train)
