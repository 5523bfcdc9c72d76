"""Snakemake adapter: figure F'."""

from memreg import plots
from memreg.io import load_table

plots.score_vs_time(load_table(snakemake.input[0]), snakemake.output[0])
