"""Snakemake adapter: evaluate the paper's claims on this run's tables."""

from pathlib import Path

from memreg.claims import Thresholds, claims_html, evaluate_claims
from memreg.io import load_table, save_table

tables = {name: load_table(path) for name, path in snakemake.input.items()}
claims = evaluate_claims(tables, Thresholds(**snakemake.params.thresholds))
save_table(snakemake.output.table, claims, {"thresholds": snakemake.params.thresholds})
Path(snakemake.output.page).write_text(claims_html(claims))
