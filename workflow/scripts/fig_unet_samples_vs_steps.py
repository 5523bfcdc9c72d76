"""Snakemake adapter: figure K, the fixed-noise sample grid of one U-Net against steps."""

from memreg import plots
from memreg.io import load_arrays

grids, meta = load_arrays(snakemake.input.grids)
train = load_arrays(snakemake.input.images)[0]["images"]
title = f"data set {meta['dataset']}, model_channels {meta['architecture']['model_channels']}"
plots.unet_samples_vs_steps(
    grids["steps"], grids["samples"], train, snakemake.params.rows, title, snakemake.output[0]
)
