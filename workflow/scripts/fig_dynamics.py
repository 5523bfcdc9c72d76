"""Snakemake adapter: figures B and C."""

from memreg import plots
from memreg.io import load_arrays

with plots.made_by(snakemake.rule, __file__, plots.dynamics, snakemake.params.config):
    plots.dynamics(
        load_arrays(snakemake.input[0])[0], snakemake.params.process, snakemake.output[0]
    )
