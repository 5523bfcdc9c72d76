"""Snakemake adapter: figure F'."""

from memreg import joblog
from memreg.io import load_table
from memreg.outputs import plots

joblog.start(snakemake)

with plots.made_by(snakemake.rule, __file__, plots.score_vs_time, snakemake.params.config):
    plots.score_vs_time(load_table(snakemake.input[0]), snakemake.output[0])
