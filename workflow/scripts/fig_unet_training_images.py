"""Snakemake adapter: figure K, the training images of every data set."""

from memreg import plots
from memreg.io import load_arrays
from memreg.unet_scale import PAPER_SCALE_HINT

sets = {
    name: load_arrays(path)[0]["images"]
    for name, path in zip(snakemake.params.datasets, snakemake.input)
}
size = next(iter(sets.values())).shape[-1]
scale = f"this run: {size}x{size} pixels; {PAPER_SCALE_HINT}"
plots.unet_training_images(sets, snakemake.output[0], scale)
