"""Snakemake adapter: train the MLP group of one study (H, I, J), resumably."""

from pathlib import Path

import pandas as pd
import torch

from memreg import checkpoint, joblog
from memreg.closed_form.process import make_process
from memreg.io import load_arrays, save_table
from memreg.mlp.evaluation import save_group
from memreg.mlp.model import Architecture, MLPGroup, ModelSpec
from memreg.mlp.training import TrainConfig, train

joblog.start(snakemake)

torch.set_num_threads(snakemake.threads)
study, process = snakemake.params.study, make_process(**snakemake.params.process)
group = MLPGroup(Architecture(**study["architecture"]), [ModelSpec(**m) for m in study["models"]])
cfg = TrainConfig(**{**study["train"], "snapshots": tuple(study["train"]["snapshots"])})
# Named by the settings, so a state left by another configuration never blocks.
key = checkpoint.settings_key([study, snakemake.params.process])
state = Path(snakemake.params.state_dir) / f"state-{key}.pt"
train_data = load_arrays(snakemake.input[0])[0]["train"]
result = train(group, process, train_data, cfg, state_path=state, progress=True)
save_group(snakemake.output.model, result)
columns = {f"loss_model_{m}": result.losses[:, m] for m in range(group.n_models)}
save_table(snakemake.output.loss, pd.DataFrame({"iteration": result.loss_steps, **columns}), study)
checkpoint.remove(state)  # the outputs hold everything
