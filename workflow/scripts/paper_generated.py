"""Snakemake adapter: paper/generated/values.tex and tables/*.tex from the result tables."""

from pathlib import Path

from memreg.io import load_table
from memreg.outputs.paper import tables_tex, values_macros

p = snakemake.params
tables = {key: load_table(path) for key, path in snakemake.input.items()}
values = values_macros(tables, p.boundary_tol, p.delta, p.unet_window, p.unet_level)
Path(snakemake.output.values).write_text(values)
texts = tables_tex(tables, p.boundary_tol, p.unet_window, p.unet_level)
for path in snakemake.output.tables:
    Path(path).write_text(texts[Path(path).stem])
