"""Snakemake adapter: the authors' numbers beside this run's (results/comparison.csv)."""

from pathlib import Path

from memreg import joblog
from memreg.io import load_table, save_table
from memreg.outputs.comparison import (
    AUTHORS_VALUES,
    COMPARED_TABLES,
    REL_TOL,
    compare,
    comparison_html,
    counts,
    load_authors_values,
)

joblog.start(snakemake)

tables = {name: load_table(snakemake.input[name]) for name in COMPARED_TABLES}
authors = load_authors_values(snakemake.input.authors)
table = compare(tables, authors)
meta = {"authors_values": f"memreg.outputs/{AUTHORS_VALUES}", "rel_tol": REL_TOL}
save_table(snakemake.output.table, table, meta)
Path(snakemake.output.page).write_text(comparison_html(table))
n = counts(table)
Path(snakemake.log[0]).write_text(
    f"{n['values']} authors' values; {n['computed']} computed by this run, "
    f"{n['inside']} inside our 95% interval\n"
)
