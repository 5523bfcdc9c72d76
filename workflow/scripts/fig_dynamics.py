"""Snakemake adapter: figures B and C."""

from memreg import plots
from memreg.io import load_arrays

plots.dynamics(load_arrays(snakemake.input[0])[0], snakemake.wildcards.process, snakemake.output[0])
