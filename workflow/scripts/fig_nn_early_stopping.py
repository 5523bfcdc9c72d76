"""Snakemake adapter: figure I, nonsingular against singular parameterization."""

from memreg.io import load_table
from memreg.outputs import plots

with plots.made_by(snakemake.rule, __file__, plots.nn_early_stopping, snakemake.params.config):
    plots.nn_early_stopping(load_table(snakemake.input[0]), snakemake.output[0])
