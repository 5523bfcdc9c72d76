"""Snakemake adapter: a figure drawn by memreg.plots.<function> from one table."""

from memreg import plots
from memreg.io import load_table

getattr(plots, snakemake.params.function)(load_table(snakemake.input[0]), snakemake.output[0])
