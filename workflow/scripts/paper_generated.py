"""Snakemake adapter: paper/generated/values.tex and tables/*.tex from the result tables."""

from pathlib import Path

from memreg import joblog
from memreg.io import load_table
from memreg.outputs.claims import Cited, Thresholds
from memreg.outputs.paper import tables_tex, values_macros

joblog.start(snakemake)

th, cited = Thresholds(**snakemake.params.thresholds), Cited(**snakemake.params.cited)
tables = {key: load_table(path) for key, path in snakemake.input.items()}
window, level = th.unet_final_window, th.unet_level
values = values_macros(tables, cited.boundary_tol, cited.nn_delta, window, level)
Path(snakemake.output.values).write_text(values)
texts = tables_tex(tables, cited.boundary_tol, window, level)
for path in snakemake.output.tables:
    Path(path).write_text(texts[Path(path).stem])
