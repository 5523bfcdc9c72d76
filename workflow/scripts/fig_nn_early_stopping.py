"""Snakemake adapter: figure I, nonsingular against singular parameterization, with the
authors' values."""

from memreg import joblog
from memreg.io import load_table
from memreg.outputs import comparison, plots

joblog.start(snakemake)

authors = comparison.authors_table("I", comparison.load_authors_values(snakemake.input.authors))
with plots.made_by(snakemake.rule, __file__, plots.nn_early_stopping, snakemake.params.config):
    plots.nn_early_stopping(load_table(snakemake.input.table), snakemake.output[0], authors)
