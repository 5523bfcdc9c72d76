"""Snakemake adapter: figure K, fraction memorized against steps per model size."""

from memreg import joblog
from memreg.io import load_table
from memreg.outputs import plots
from memreg.unet.scale import run_scale_note, table_scale_label

joblog.start(snakemake)

table = load_table(snakemake.input[0])
with plots.made_by(snakemake.rule, __file__, plots.unet_memorization, snakemake.params.config):
    plots.unet_memorization(table, snakemake.output[0], run_scale_note(table_scale_label(table)))
