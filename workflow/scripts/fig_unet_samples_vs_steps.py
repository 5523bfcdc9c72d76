"""Snakemake adapter: figure K, the fixed-noise sample grid of one U-Net against epochs."""

from memreg import joblog
from memreg.io import load_arrays
from memreg.outputs import plots
from memreg.unet.scale import run_scale_note, scale_label

joblog.start(snakemake)

grids, meta = load_arrays(snakemake.input.grids)
train = load_arrays(snakemake.input.images)[0]["images"]
arch = meta["architecture"]
n_train = len(train)
scale = scale_label(
    arch["resolution"], meta["train"]["images"], [arch["model_channels"]], {n_train: 1}
)
title = f"data set {meta['dataset']}, seed {meta['train']['seed']}\n{run_scale_note(scale)}"
with plots.made_by(snakemake.rule, __file__, plots.unet_samples_vs_steps, snakemake.params.config):
    plots.unet_samples_vs_steps(
        grids["epochs"], grids["samples"], train, snakemake.params.rows, title, snakemake.output[0]
    )
