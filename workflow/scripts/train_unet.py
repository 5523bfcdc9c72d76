"""Snakemake adapter: train one EDM U-Net (family K) from one seed, resuming from its checkpoint."""

import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from memreg import checkpoint as ckpt
from memreg import joblog
from memreg.io import load_arrays, save_arrays, save_table
from memreg.unet.network import UNetConfig
from memreg.unet.scale import SlowOnCPU, check_cpu_budget
from memreg.unet.training import UNetTrainConfig, save_unet, train_unet

joblog.start(snakemake)

torch.set_num_threads(snakemake.threads)
p = snakemake.params
arch = UNetConfig(**p.architecture)
cfg = UNetTrainConfig.from_config(p.train, p.evaluation)
images, meta = load_arrays(snakemake.input[0])
device = None if p.device == "auto" else p.device
try:  # a paper-scale training that found no GPU stops here, before any work
    hours = check_cpu_budget(arch.model_channels, arch.resolution, cfg, device,
                             p.cpu_hours_limit, p.allow_slow_cpu)  # fmt: skip
except SlowOnCPU as err:
    w = snakemake.wildcards
    sys.exit(f"memreg: train_unet {w.dataset}_c{w.channels}_s{w.seed}: {err}")
if hours is not None:
    logging.info("estimated %.2f h on this CPU (unet.cpu_hours_limit = %g h)", hours,
                 p.cpu_hours_limit)  # fmt: skip
# Named by a hash of the settings, so a checkpoint left by another configuration never blocks.
key = ckpt.settings_key([p.architecture, p.train, p.evaluation])
checkpoint = Path(p.checkpoint_dir) / f"checkpoint-{key}.pt"
run = train_unet(
    images["images"],
    arch,
    cfg,
    checkpoint=checkpoint,
    device=device,
    progress=True,
    cuda_graph=p.cuda_graph,
)
save_unet(snakemake.output.model, run, arch)
record = {
    "dataset": snakemake.wildcards.dataset,
    "architecture": arch.record(),
    "train": p.train,
    "evaluation": p.evaluation,
    "seconds": run.seconds,
}
table = pd.DataFrame(run.evaluations)
table.insert(0, "seed", cfg.seed)
table.insert(0, "n_params", run.n_params)
table.insert(0, "resolution", arch.resolution)
table.insert(0, "model_channels", arch.model_channels)
table.insert(0, "n_train", len(images["images"]))
table.insert(0, "dataset", snakemake.wildcards.dataset)
save_table(snakemake.output.table, table, record)
seen = sorted(run.grids)
save_arrays(
    snakemake.output.grids,
    record,
    images=np.array(seen),
    epochs=np.array(seen) / len(images["images"]),
    samples=np.stack([run.grids[s].numpy()[:, 0] for s in seen]),
)
save_table(
    snakemake.output.loss, pd.DataFrame({"images": run.loss_images, "loss": run.losses}), record
)
ckpt.remove(checkpoint)  # the outputs hold everything; checkpoints are large
