"""Snakemake adapter: figure K, fraction memorized against steps per model size."""

from memreg import plots
from memreg.io import load_table

plots.unet_memorization(load_table(snakemake.input[0]), snakemake.output[0])
