"""Snakemake adapter: figures B and C."""

from memreg import joblog
from memreg.io import load_arrays
from memreg.outputs import plots

joblog.start(snakemake)

with plots.made_by(snakemake.rule, __file__, plots.dynamics, snakemake.params.config):
    plots.dynamics(
        load_arrays(snakemake.input[0])[0], snakemake.params.process, snakemake.output[0]
    )
