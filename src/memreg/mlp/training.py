"""Denoising score matching for a group of MLPs, with EMA, snapshots and exact resume.

Each step uses the full training set: every training point gets one time
t ~ U(t_eps, T) (t_eps > 0 keeps sigma away from 0, where the singular
parameterization and the Tikhonov term divide by sigma) and one noise draw, from
the model's own generator. The loss of each model is ``mlp.dsm_loss``, its gradient
computed by the hand-written backward pass ``mlp.dsm_loss_and_grads`` into gradient
buffers kept across steps; Adam minimises their sum (so every model sees exactly its
own gradient), and an EMA of the weights,

    ema <- ema + (1 - d_k) (w - ema),   d_k = min(decay, (1 + k) / (10 + k)),

is the network that is sampled (the warm-up keeps short runs meaningful).

The training state (weights, EMA, Adam, generator states, step, loss history,
EMA snapshots at the requested iterations) is saved every ``save_every`` steps by
``memreg.checkpoint`` (atomically, the previous state kept as ``.prev``, a corrupt file
set aside); ``train`` started again on the same state file continues from it and ends
with the same weights as an uninterrupted run.

The loop runs with subnormal floats flushed to zero (``memreg.numerics.flush_subnormals``):
Adam moments of units whose gradient stays exactly zero decay into that range, where CPU
arithmetic is several times slower; flushing changes a weight by < lr * 1.2e-38 / eps a step.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import checkpoint
from ..closed_form.process import Process
from ..numerics import flush_subnormals
from .model import MLPGroup, ModelSpec, dsm_loss_and_grads


@dataclass(frozen=True)
class TrainConfig:
    iterations: int
    lr: float = 1e-3
    ema_decay: float = 0.9999
    t_eps: float = 1e-5
    snapshots: tuple[int, ...] = ()  # iterations at which the EMA weights are kept
    save_every: int = 10_000
    log_every: int = 100

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        if not self.lr > 0:
            raise ValueError(f"learning rate must be > 0, got {self.lr}")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.save_every < 1 or self.log_every < 1 or self.save_every % self.log_every:
            raise ValueError(
                f"save_every ({self.save_every}) must be a positive multiple of "
                f"log_every ({self.log_every})"
            )
        bad = [k for k in self.snapshots if not 1 <= k <= self.iterations]
        if bad:
            raise ValueError(f"snapshots {bad} lie outside 1..iterations = {self.iterations}")


@dataclass
class TrainResult:
    """What a finished training leaves: the group (with final EMA weights loaded),
    the EMA weights at each snapshot iteration, and the loss history."""

    group: MLPGroup
    snapshots: dict[int, list[torch.Tensor]]
    loss_steps: np.ndarray
    losses: np.ndarray  # (n_logs, M): mean loss over each block of log_every steps


def model_generator(spec: ModelSpec) -> torch.Generator:
    """The generator of a model's training draws, independent of its initialization stream."""
    seed = int(np.random.SeedSequence([spec.seed, 1]).generate_state(1)[0])
    return torch.Generator().manual_seed(seed)


def resume_settings(group: MLPGroup, process: Process, cfg: TrainConfig) -> dict[str, Any]:
    """Everything a resumed run must share with the run that saved the state (the
    checkpoint's fingerprint): architecture, specs, process, and the training settings
    other than how often it saves and logs."""
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("save_every", "log_every")}
    return {**group.architecture_record(), "process": repr(process), "train": settings}


def _params(group: MLPGroup) -> list[torch.Tensor]:
    return list(group.weights) + list(group.biases)


def train(
    group: MLPGroup,
    process: Process,
    data: np.ndarray,
    cfg: TrainConfig,
    state_path: str | Path | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train every network of ``group`` on ``data`` (N, d); resume from ``state_path``
    (or its ``.prev``) when it exists, by the policy of ``memreg.checkpoint``."""
    x0 = torch.as_tensor(data, dtype=torch.float32)
    n, d = x0.shape
    if d != group.arch.dim:
        raise ValueError(f"data dimension {d} differs from the architecture's dim {group.arch.dim}")
    params = _params(group)
    opt = torch.optim.Adam(params, lr=cfg.lr, fused=True)
    ema = [p.detach().clone() for p in params]
    grads = [torch.zeros_like(p) for p in params]  # written in place every step
    for p, g in zip(params, grads):
        p.grad = g
    gens = [model_generator(s) for s in group.specs]
    step, loss_steps, losses, snapshots = 0, [], [], {}
    expected = checkpoint.fingerprint(resume_settings(group, process, cfg))
    path = Path(state_path) if state_path is not None else None
    state = checkpoint.load(path, expected) if path is not None else None
    if state is not None:
        group.load_state_dict(state["group"])
        opt.load_state_dict(state["optimizer"])
        ema = state["ema"]
        for g, s in zip(gens, state["generators"]):
            g.set_state(s)
        step, loss_steps, losses = state["step"], state["loss_steps"], state["losses"]
        snapshots = {int(k): v for k, v in state["snapshots"].items()}

    def save() -> None:
        if path is None:
            return
        state = {
            "fingerprint": expected,
            "group": group.state_dict(),
            "optimizer": opt.state_dict(),
            "ema": ema,
            "generators": [g.get_state() for g in gens],
            "step": step,
            "loss_steps": loss_steps,
            "losses": losses,
            "snapshots": {str(k): v for k, v in snapshots.items()},
        }
        checkpoint.save(path, state)

    T, wanted = process.T, set(cfg.snapshots)
    running = torch.zeros(group.n_models)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.iterations, initial=step, desc="training", unit="it", mininterval=5)
    with flush_subnormals():  # see memreg.numerics: subnormal Adam moments are slow
        while step < cfg.iterations:
            t = torch.stack(
                [cfg.t_eps + (T - cfg.t_eps) * torch.rand(n, generator=g) for g in gens]
            )
            eps = torch.stack([torch.randn(n, d, generator=g) for g in gens])
            loss = dsm_loss_and_grads(group, process, x0, t, eps, grads)
            opt.step()
            step += 1
            decay = min(cfg.ema_decay, (1.0 + step) / (10.0 + step))
            with torch.no_grad():
                torch._foreach_lerp_(ema, [p.detach() for p in params], 1.0 - decay)
            running += loss.detach()
            if step % cfg.log_every == 0 or step == cfg.iterations:
                block = cfg.log_every if step % cfg.log_every == 0 else step % cfg.log_every
                loss_steps.append(step)
                losses.append((running / block).tolist())
                running.zero_()
                if bar is not None:
                    bar.set_postfix(loss=f"{float(np.mean(losses[-1])):.4f}", refresh=False)
            if step in wanted:
                snapshots[step] = [e.clone() for e in ema]
            if bar is not None:
                bar.update(1)
            if step % cfg.save_every == 0 or step == cfg.iterations:
                save()
    if bar is not None:
        bar.close()
    final = copy.deepcopy(group)
    load_weights(final, ema)
    return TrainResult(final, snapshots, np.asarray(loss_steps), np.asarray(losses))


def load_weights(group: MLPGroup, weights: list[torch.Tensor]) -> None:
    """Copy a flat list [weights..., biases...] (as in EMA snapshots) into ``group``."""
    with torch.no_grad():
        for p, w in zip(_params(group), weights):
            p.copy_(w)
