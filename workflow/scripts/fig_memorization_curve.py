"""Snakemake adapter: figures F/G, fraction matching against the parameter."""

from memreg import joblog
from memreg.io import load_table
from memreg.outputs import plots

joblog.start(snakemake)

p = snakemake.params
with plots.made_by(snakemake.rule, __file__, plots.memorization_curve, p.config):
    plots.memorization_curve(load_table(snakemake.input[0]), p.param, p.label, snakemake.output[0])
