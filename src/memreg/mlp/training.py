"""Denoising score matching for a group of MLPs, with EMA, snapshots and exact resume.

Each step uses the full training set: every training point gets one time
t ~ U(t_eps, T) (t_eps > 0 keeps sigma away from 0, where the singular
parameterization and the Tikhonov term divide by sigma) and one noise draw, from
the model's own generator. The loss of each model is ``mlp.dsm_loss``, its gradient
computed by the hand-written backward pass ``mlp.dsm_loss_and_grads`` into gradient
buffers kept across steps; Adam minimises their sum (so every model sees exactly its
own gradient), and an exponential moving average (EMA) of the weights is the network
that is sampled. The EMA follows the authors' notebooks, which average with the
``ema-pytorch`` package at its defaults, ``EMA(model, beta=0.9999)``, calling its
``update()`` once after every optimizer step (``ema_schedule``, ``ema_decay``; a test holds
ours against the package step by step).

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
from ..errors import SettingError
from ..numerics import flush_subnormals
from .model import MLPGroup, ModelSpec, dsm_loss_and_grads


@dataclass(frozen=True)
class TrainConfig:
    iterations: int
    lr: float = 1e-3
    ema_decay: float = 0.9999  # the cap of the EMA's decay (ema-pytorch's beta)
    ema_update_after_step: int = 100  # the EMA copies the weights until this step ...
    ema_update_every: int = 10  # ... and acts on every ema_update_every-th step only
    ema_power: float = 2 / 3  # the warm-up's exponent (ema-pytorch's power)
    t_eps: float = 1e-5
    snapshots: tuple[int, ...] = ()  # iterations at which the EMA weights are kept
    save_every: int = 10_000
    log_every: int = 100

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise SettingError("iterations", self.iterations, "an integer >= 1")
        if not self.lr > 0:
            raise SettingError("lr", self.lr, "a number > 0 (Adam's learning rate)")
        if not 0 <= self.ema_decay < 1:
            raise SettingError("ema_decay", self.ema_decay, "a number in [0, 1)")
        if self.ema_update_after_step < 0:
            raise SettingError("ema_update_after_step", self.ema_update_after_step,
                               "an integer >= 0")  # fmt: skip
        if self.ema_update_every < 1:
            raise SettingError("ema_update_every", self.ema_update_every, "an integer >= 1")
        if not self.ema_power > 0:
            raise SettingError("ema_power", self.ema_power, "a number > 0")
        if self.log_every < 1:
            raise SettingError("log_every", self.log_every, "an integer >= 1")
        if self.save_every < 1 or self.save_every % self.log_every:
            raise SettingError("save_every", self.save_every,
                               f"a positive multiple of log_every = {self.log_every}")  # fmt: skip
        bad = [k for k in self.snapshots if not 1 <= k <= self.iterations]
        if bad:
            raise SettingError("snapshots", bad, f"iterations in 1..iterations = {self.iterations}")


@dataclass
class TrainResult:
    """What a finished training leaves: the group (with final EMA weights loaded),
    the EMA weights at each snapshot iteration, and the loss history."""

    group: MLPGroup
    snapshots: dict[int, list[torch.Tensor]]
    loss_steps: np.ndarray
    losses: np.ndarray  # (n_logs, M): mean loss over each block of log_every steps


def ema_decay(step: int, cfg: TrainConfig) -> float:
    """The decay of the EMA after optimizer step ``step`` (1, 2, ...), ema-pytorch's
    ``get_current_decay`` with its counter at ``step``:

        d_k = clamp(1 - (1 + j)^(-power), 0, cap),   j = k - update_after_step - 1,

    and d_k = 0 for j <= 0 (inv_gamma = 1 and min_value = 0, the package's defaults; cap is
    ``cfg.ema_decay``, the package's beta). It applies where ``ema_schedule`` averages."""
    j = step - cfg.ema_update_after_step - 1
    if j <= 0:
        return 0.0
    return min(cfg.ema_decay, max(0.0, 1.0 - (1.0 + j) ** -cfg.ema_power))


def ema_schedule(step: int, cfg: TrainConfig) -> str | None:
    """What ema-pytorch's ``update()`` does on its ``step``-th call (after optimizer step
    ``step`` = 1, 2, ...): its counter reads i = step - 1 before the call, and

        "copy"     ema <- w                                  if i = 0 (first call), or
                                                             i % every = 0 and i <= after;
        "average"  ema <- ema + (1 - d_step) (w - ema)       if i % every = 0 and i > after;
        None       ema unchanged                             otherwise,

    every = ``cfg.ema_update_every``, after = ``cfg.ema_update_after_step``, d from
    ``ema_decay``. With the defaults: copies after steps 1, 11, ..., 101, averages after
    steps 111, 121, ... (the first with d = 1 - 11^(-2/3))."""
    i = step - 1
    if i % cfg.ema_update_every:
        return None
    return "copy" if i <= cfg.ema_update_after_step else "average"


def update_ema(ema: list[torch.Tensor], params: list[torch.Tensor], step: int, cfg: TrainConfig):
    """Apply ``ema_schedule`` at optimizer step ``step`` to the EMA tensors ``ema`` in place."""
    action = ema_schedule(step, cfg)
    with torch.no_grad():
        weights = [p.detach() for p in params]
        if action == "copy":
            torch._foreach_copy_(ema, weights)
        elif action == "average":
            torch._foreach_lerp_(ema, weights, 1.0 - ema_decay(step, cfg))


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
            update_ema(ema, params, step, cfg)
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
