"""Snakemake adapter: figure K, the training images of every data set."""

from memreg import joblog
from memreg.io import load_arrays
from memreg.outputs import plots
from memreg.unet.scale import run_scale_note

joblog.start(snakemake)

sets = {
    name: load_arrays(path)[0]["images"]
    for name, path in zip(snakemake.params.datasets, snakemake.input)
}
size = next(iter(sets.values())).shape[-1]
with plots.made_by(snakemake.rule, __file__, plots.unet_training_images, snakemake.params.config):
    plots.unet_training_images(sets, snakemake.output[0], run_scale_note(f"{size}x{size} pixels"))
