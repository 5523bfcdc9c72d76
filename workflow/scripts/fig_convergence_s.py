"""Snakemake adapter: figure D."""

from memreg import joblog
from memreg.io import load_arrays, load_table
from memreg.outputs import plots

joblog.start(snakemake)

curves = {p: load_arrays(f)[0] for p, f in zip(snakemake.params.processes, snakemake.input.curves)}
with plots.made_by(snakemake.rule, __file__, plots.convergence_s, snakemake.params.config):
    plots.convergence_s(curves, load_table(snakemake.input.table), snakemake.output[0])
