"""Snakemake adapter: figure K, the training images of every data set."""

from memreg import plots
from memreg.io import load_arrays

sets = {
    name: load_arrays(path)[0]["images"]
    for name, path in zip(snakemake.params.datasets, snakemake.input)
}
plots.unet_training_images(sets, snakemake.output[0])
