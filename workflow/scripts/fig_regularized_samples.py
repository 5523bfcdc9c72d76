"""Snakemake adapter: figures F/G, sample panels."""

from memreg import joblog
from memreg.io import load_arrays
from memreg.outputs import plots

joblog.start(snakemake)

p, n = snakemake.params, snakemake.params.n_shown
panels, train = [], None
for value, path in zip(p.values, snakemake.input):
    arrays = load_arrays(path)[0]
    panels.append((f"${p.symbol} = {value:.3g}$".replace("tau", r"\tau"), arrays["samples"][:n]))
    train = arrays["train"]
title = f"{n} samples per panel, {p.kind} regularization"
with plots.made_by(snakemake.rule, __file__, plots.sample_panels, snakemake.params.config):
    plots.sample_panels(panels, train, title, snakemake.output[0])
