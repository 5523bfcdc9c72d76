"""Snakemake adapter: figure A."""

from memreg import joblog
from memreg.io import load_arrays
from memreg.outputs import plots

joblog.start(snakemake)

with plots.made_by(snakemake.rule, __file__, plots.data_voronoi, snakemake.params.config):
    plots.data_voronoi(load_arrays(snakemake.input[0])[0]["train"], snakemake.output[0])
