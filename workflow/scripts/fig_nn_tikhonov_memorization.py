"""Snakemake adapter: figure H, fraction of MLP samples matching the data against c."""

from memreg.io import load_table
from memreg.outputs import plots

with plots.made_by(snakemake.rule, __file__, plots.nn_memorization, snakemake.params.config):
    plots.nn_memorization(load_table(snakemake.input[0]), snakemake.output[0])
