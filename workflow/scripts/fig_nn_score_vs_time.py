"""Snakemake adapter: figure H, |learned score| and |closed-form score| against t."""

from memreg import joblog
from memreg.io import load_table
from memreg.outputs import plots

joblog.start(snakemake)

with plots.made_by(snakemake.rule, __file__, plots.nn_score_vs_time, snakemake.params.config):
    plots.nn_score_vs_time(load_table(snakemake.input[0]), snakemake.output[0])
