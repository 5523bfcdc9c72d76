"""The networks, architecture and training settings of one study of families H, I, J, read
from the workflow's settings (config.yaml's ``neural`` section), as plain data for the rules.

A study is ``tikhonov`` (H: one network per c), ``early_stopping`` (I: one network per
parameterization) or ``width_<w>`` (J: one network of width w, one job per width).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import network_seed

#: A generous cost per training iteration for the cluster's time limits: 0.5 ms, plus 2 ms
#: per width-256 network (scaled by width^2). H, five such networks, took 3.5 ms per
#: iteration on 2026-12-06 and 5.7-9.0 ms on 2026-11-30 (benchmarks/README.md), one
#: thread: a limit stays above the run of a slow node.
MS_PER_NETWORK_ITERATION = 2.0
MS_PER_ITERATION_BASE = 0.5
#: The keys of config.yaml's ``neural`` section that every study shares, in the order of the
#: settings (a rule's parameters, so the order is part of what Snakemake compares).
ARCHITECTURE_KEYS = ("n_hidden", "embedding_dim")
TRAIN_KEYS = ("lr", "ema_decay", "ema_update_after_step", "ema_update_every", "t_eps",
              "save_every", "log_every")  # fmt: skip


def models(neural: Mapping, study: str) -> list[dict[str, Any]]:
    """The networks of ``study``: memreg.mlp.model.ModelSpec keyword dicts, each with its own
    seed, network_seed(neural.seed, study, its position in the study's list: c of H,
    parameterization of I, width of J)."""
    base = neural["seed"]
    if study == "tikhonov":
        return [{"seed": network_seed(base, study, k), "parameterization": "nonsingular",
                 "c": float(c)} for k, c in enumerate(neural["tikhonov"]["c"])]  # fmt: skip
    if study == "early_stopping":
        return [{"seed": network_seed(base, study, k), "parameterization": p, "c": 0.0}
                for k, p in enumerate(neural["early_stopping"]["parameterizations"])]  # fmt: skip
    k = neural["width"]["widths"].index(int(study.split("_")[1]))
    return [{"seed": network_seed(base, "width", k), "parameterization": "nonsingular", "c": 0.0}]


def settings(cfg: Mapping, study: str) -> dict[str, Any]:
    """Architecture (memreg.mlp.model.Architecture), training settings
    (memreg.mlp.training.TrainConfig) and networks of ``study``; ``cfg`` is the whole
    configuration (the networks learn the score of data.authors_points)."""
    nn = cfg["neural"]
    run = nn["width"] if study.startswith("width_") else nn[study]
    width = int(study.split("_")[1]) if study.startswith("width_") else run["width"]
    every, n = run["snapshot_every"], run["iterations"]
    dim = cfg["data"]["authors_points"]["dim"]
    architecture = {"dim": dim, "width": width, **{k: nn[k] for k in ARCHITECTURE_KEYS}}
    train = {"iterations": n, **{k: nn[k] for k in TRAIN_KEYS}}
    train["snapshots"] = sorted({*range(every, n + 1, every), n})
    return {"architecture": architecture, "train": train, "models": models(nn, study)}


def studies(neural: Mapping) -> list[str]:
    """Every study of the configuration: tikhonov, early_stopping, width_<w> for each w."""
    return ["tikhonov", "early_stopping", *(f"width_{w}" for w in neural["width"]["widths"])]


def runtime_minutes(cfg: Mapping, study: str) -> int:
    """A time limit for a cluster job: the measured cost per iteration, scaled by width^2,
    padded twice over, plus 10 minutes."""
    s = settings(cfg, study)
    width, n = s["architecture"]["width"], s["train"]["iterations"]
    ms = MS_PER_ITERATION_BASE + MS_PER_NETWORK_ITERATION * len(s["models"]) * (width / 256) ** 2
    return int(10 + 2 * n * ms / 60000)
