"""Snakemake adapter: figure E."""

from memreg import joblog
from memreg.io import load_arrays, load_table
from memreg.outputs import plots

joblog.start(snakemake)

table = load_table(snakemake.input.table)
cases = {}
for name, path in zip(snakemake.params.datasets, snakemake.input.paths):
    arrays = load_arrays(path)[0]
    cases[name] = {
        "table": table[table["dataset"] == name],
        "y": arrays["y"],
        "train": arrays["train"],
    }
with plots.made_by(snakemake.rule, __file__, plots.voronoi_boundaries, snakemake.params.config):
    plots.voronoi_boundaries(cases, snakemake.output[0])
