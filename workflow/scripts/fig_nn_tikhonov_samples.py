"""Snakemake adapter: figure H, samples of the MLP scores per c (final iteration)."""

from memreg import joblog
from memreg.io import load_arrays
from memreg.outputs import plots

joblog.start(snakemake)

arrays, n = load_arrays(snakemake.input[0])[0], snakemake.params.n_shown
final = arrays["samples"][-1]  # (models, n, d) at the last snapshot
panels = [(f"$c = {c:g}$", final[m, :n]) for m, c in enumerate(snakemake.params.c)]
title = f"MLP scores after {int(arrays['iterations'][-1]):,} iterations, {n} samples per panel"
with plots.made_by(snakemake.rule, __file__, plots.sample_panels, snakemake.params.config):
    plots.sample_panels(panels, arrays["train"], title, snakemake.output[0])
