"""Snakemake adapter: paper/generated/values.tex and tables/*.tex from the result tables."""

from pathlib import Path

from memreg.io import load_table
from memreg.outputs.paper import tables_tex, values_macros

p = snakemake.params
tables = {key: load_table(path) for key, path in snakemake.input.items()}
Path(snakemake.output.values).write_text(values_macros(tables, p.boundary_tol, p.delta))
texts = tables_tex(tables, p.boundary_tol)
for path in snakemake.output.tables:
    Path(path).write_text(texts[Path(path).stem])
