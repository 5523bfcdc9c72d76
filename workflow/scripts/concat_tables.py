"""Snakemake adapter: concatenate the per-part tables of one study."""

import pandas as pd

from memreg import joblog
from memreg.io import load_table, save_table

joblog.start(snakemake)

table = pd.concat([load_table(path) for path in snakemake.input], ignore_index=True)
save_table(snakemake.output[0], table, {"parts": list(snakemake.input)})
