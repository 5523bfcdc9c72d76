"""Snakemake adapter: write a training set (authors' points or a fixed point set)."""

from memreg import joblog
from memreg.data import authors_points, point_set
from memreg.io import save_arrays

joblog.start(snakemake)

params = snakemake.params
if "cfg" in params.keys():
    cfg = dict(params.cfg)
    train = authors_points(n=cfg["n"], dim=cfg["dim"], seed=cfg["seed"])
else:
    cfg = {"points": list(params.points)}
    train = point_set(cfg["points"])
save_arrays(snakemake.output[0], meta=cfg, train=train)
