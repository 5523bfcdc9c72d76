"""Snakemake adapter: evaluate the paper's claims on this run's tables."""

from pathlib import Path

from memreg import joblog
from memreg.io import load_table, save_table
from memreg.outputs.claims import Cited, Thresholds, claims_html, evaluate_claims

joblog.start(snakemake)

p = snakemake.params
tables = {name: load_table(path) for name, path in snakemake.input.items()}
th, cited = Thresholds(**p.thresholds), Cited(**p.cited)
claims = evaluate_claims(tables, th, cited, p.processes)
meta = {"thresholds": p.thresholds, "cited": p.cited}
save_table(snakemake.output.table, claims, meta)
Path(snakemake.output.page).write_text(claims_html(claims))
