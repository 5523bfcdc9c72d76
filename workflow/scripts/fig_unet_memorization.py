"""Snakemake adapter: figure K, fraction memorized against steps per model size."""

from memreg import plots
from memreg.io import load_table
from memreg.unet_scale import PAPER_SCALE_HINT, table_scale_label

table = load_table(snakemake.input[0])
scale = f"this run: {table_scale_label(table)}; {PAPER_SCALE_HINT}"
plots.unet_memorization(table, snakemake.output[0], scale)
