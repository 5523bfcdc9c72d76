"""Snakemake adapter: evaluate the paper's claims on this run's tables."""

from pathlib import Path

from memreg.io import load_table, save_table
from memreg.outputs.claims import Cited, Thresholds, claims_html, evaluate_claims

p = snakemake.params
tables = {name: load_table(path) for name, path in snakemake.input.items()}
th, cited = Thresholds(**p.thresholds), Cited(p.boundary_tol, p.nn_delta)
claims = evaluate_claims(tables, th, cited, p.processes)
meta = {"thresholds": p.thresholds, "boundary_tol": p.boundary_tol, "nn_delta": p.nn_delta}
save_table(snakemake.output.table, claims, meta)
Path(snakemake.output.page).write_text(claims_html(claims))
