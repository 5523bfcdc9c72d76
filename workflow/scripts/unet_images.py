"""Snakemake adapter: the square images of one data set (family K)."""

from memreg import joblog
from memreg.data import scale_squares, square_images
from memreg.io import save_arrays

joblog.start(snakemake)

squares = scale_squares(snakemake.params.squares, snakemake.params.scale)
images = square_images(squares, snakemake.params.resolution)
save_arrays(
    snakemake.output[0], {"squares": squares, "dataset": snakemake.wildcards.dataset}, images=images
)
