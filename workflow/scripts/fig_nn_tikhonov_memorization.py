"""Snakemake adapter: figure H, fraction of MLP samples matching the data against c, with
the authors' values."""

from memreg import joblog
from memreg.io import load_table
from memreg.outputs import comparison, plots

joblog.start(snakemake)

authors = comparison.authors_table("H", comparison.load_authors_values(snakemake.input.authors))
with plots.made_by(snakemake.rule, __file__, plots.nn_memorization, snakemake.params.config):
    plots.nn_memorization(load_table(snakemake.input.table), snakemake.output[0], authors)
