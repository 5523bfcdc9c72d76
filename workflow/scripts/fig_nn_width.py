"""Snakemake adapter: figure J, fraction matching against iterations and parameters per width."""

from memreg import joblog
from memreg.io import load_table
from memreg.outputs import plots

joblog.start(snakemake)

with plots.made_by(snakemake.rule, __file__, plots.nn_width, snakemake.params.config):
    plots.nn_width(load_table(snakemake.input[0]), snakemake.output[0])
