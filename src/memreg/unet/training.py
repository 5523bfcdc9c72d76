"""Training an EDM U-Net on a handful of images, with exact resume (family K).

One step: draw ``batch_size`` training images (uniformly, with replacement), a noise
level per image (ln sigma ~ N(P_mean, P_std^2)) and the noise; take an Adam step on
``memreg.unet.edm.edm_loss`` with EDM's learning-rate warm-up

    lr_k = lr min(k B / rampup_images, 1)       (k = 1, 2, ... the step, B the batch),

and update the EMA of the weights with EDM's half-life rule

    ema <- beta ema + (1 - beta) theta,   beta = 0.5^(B / h_k),
    h_k = min(halflife_images, rampup_ratio k B).

Every ``eval_every`` steps the EMA model samples ``n_eval`` images from fixed noise
(Heun, ``memreg.unet.edm.heun_sample``): the fraction whose binarization equals a
training image, with a bootstrap interval, the mean distance to the nearest
training image, and the first ``n_grid`` samples for the sample-grid figure.

Every random draw of training comes from one CPU generator seeded by ``seed``, so
a run on CPU is reproducible bit for bit and a resumed run ends with the same
weights as an uninterrupted one. Checkpoints (every ``checkpoint_every`` steps)
hold the model, EMA, optimizer, generator state, step, losses and evaluations;
``memreg.checkpoint`` writes them atomically, the previous one kept as ``<name>.prev``;
a corrupt latest checkpoint is set aside (``<name>.corrupt``) and the run resumes from
the previous good one. The loss is recorded as its mean over blocks of ``log_every``
steps.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import checkpoint as ckpt  # `checkpoint` is train_unet's argument
from ..checkpoint import CheckpointError, differences
from ..io import atomic_path
from ..metrics import bootstrap_fraction
from .edm import (
    EDMDenoiser,
    draw_noise_levels,
    edm_loss,
    fixed_noise,
    heun_sample,
    memorized,
    sigma_steps,
    to_model_range,
    to_unit_range,
)
from .network import SettingError, UNet, UNetConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalConfig:
    """How the EMA model is sampled during training. Bad settings raise
    :class:`memreg.unet.network.SettingError`."""

    n_eval: int = 100  # samples for the memorized fraction
    n_grid: int = 16  # of those, the first n_grid are kept for the grid figure
    n_steps: int = 40  # Heun steps
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0
    noise_seed: int = 0
    n_boot: int = 2000
    batch_size: int = 100

    def __post_init__(self) -> None:
        for key in ("n_eval", "n_boot", "batch_size"):
            if getattr(self, key) < 1:
                raise SettingError(key, getattr(self, key), "an integer >= 1")
        if self.n_steps < 2:
            raise SettingError("n_steps", self.n_steps, "an integer >= 2 (Heun steps)")
        if not 1 <= self.n_grid <= self.n_eval:
            raise SettingError("n_grid", self.n_grid, f"from 1 to n_eval = {self.n_eval}")
        if not 0 < self.sigma_min < self.sigma_max:
            raise SettingError("sigma_min", self.sigma_min,
                               f"a number > 0 below sigma_max = {self.sigma_max}")  # fmt: skip


@dataclass(frozen=True)
class UNetTrainConfig:
    """Training settings: the paper's are the defaults; where it is silent, ours (the length
    of the warm-up, ``lr_rampup_images``) or EDM's (the EMA half-life and ramp-up); see
    docs/settings.md, family K. Bad settings raise :class:`memreg.unet.network.SettingError`."""

    steps: int = 50_000
    batch_size: int = 2
    lr: float = 1e-3
    lr_rampup_images: int = 10_000
    ema_halflife_images: int = 500_000
    ema_rampup_ratio: float = 0.05
    p_mean: float = -1.2
    p_std: float = 1.2
    seed: int = 0
    checkpoint_every: int = 1000
    eval_every: int = 1000
    log_every: int = 100  # steps per point of the loss curve (their mean loss)
    evaluation: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        for key in ("steps", "batch_size", "checkpoint_every", "eval_every", "log_every"):
            if getattr(self, key) < 1:
                raise SettingError(key, getattr(self, key), "an integer >= 1")
        if self.eval_every > self.steps:
            raise SettingError("eval_every", self.eval_every, f"at most steps = {self.steps}")
        if self.steps % self.eval_every:
            raise SettingError("steps", self.steps,
                               f"a multiple of eval_every = {self.eval_every} (the final model "
                               "is always evaluated)")  # fmt: skip
        if not self.lr > 0:
            raise SettingError("lr", self.lr, "a number > 0")

    @classmethod
    def from_config(cls, train: dict, evaluation: dict) -> UNetTrainConfig:
        """The settings as config.yaml writes them: sections ``unet.train`` and
        ``unet.evaluation``."""
        return cls(**train, evaluation=EvalConfig(**evaluation))

    def eval_steps(self) -> list[int]:
        return list(range(self.eval_every, self.steps + 1, self.eval_every))


def pick_device(device: str | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resume_settings(
    unet: UNetConfig, train: UNetTrainConfig, images: torch.Tensor
) -> dict[str, Any]:
    """What a checkpoint must match to be resumed (its fingerprint): architecture,
    settings, data."""
    return {
        "unet": unet.record(),
        "train": train,
        "data_sum": float(images.double().sum()),
        "data_shape": list(images.shape),
    }


def adam(model: torch.nn.Module, lr: float, capturable: bool = False) -> torch.optim.Adam:
    """EDM's Adam (betas 0.9, 0.999, eps 1e-8). ``capturable``: state and learning rate live
    on the device (a tensor, set in place), so that a CUDA graph can replay the update."""
    if capturable:
        device = next(model.parameters()).device
        lr_tensor = torch.tensor(lr, dtype=torch.float32, device=device)
        return torch.optim.Adam(
            model.parameters(), lr=lr_tensor, betas=(0.9, 0.999), eps=1e-8,
            capturable=True, foreach=True,
        )
    return torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)


def adam_policy(opt: torch.optim.Adam, capturable: bool) -> None:
    """After ``load_state_dict``: the saved ``capturable`` flag and learning rate replaced by
    this run's, and the step counters moved where this run keeps them, so a checkpoint of
    either kind of step resumes with the other."""
    lr = opt.defaults["lr"]
    for group in opt.param_groups:
        group["capturable"], group["lr"] = capturable, lr
    for state in opt.state.values():
        where = next(v.device for k, v in state.items() if k != "step") if capturable else "cpu"
        state["step"] = torch.as_tensor(state["step"], dtype=torch.float32).to(where)


class GraphedStep:
    """One training step (gather the batch, EDM loss under bf16 autocast, backward, Adam)
    captured once as a CUDA graph and replayed: the batch's draws (made on the CPU by the
    run's generator, as in the plain step) are copied into static device buffers, the
    learning rate into the optimizer's device tensor, and the graph re-runs every kernel
    of the step with a single launch. Capture needs a few warm-up steps (cuDNN picks its
    kernels, Adam makes its state); they run at learning rate 0 and are then undone, so
    the model and optimizer enter the first replayed step exactly as they were."""

    def __init__(self, model: EDMDenoiser, opt: torch.optim.Adam, train: torch.Tensor,
                 batch_size: int, warmup: int = 3) -> None:
        self.shape, self.lr = tuple(train.shape[1:]), opt.param_groups[0]["lr"]
        n_pixels = batch_size * train[0].numel()
        # idx, sigma and noise of one step, packed into one buffer: one copy per step
        self.inputs = torch.zeros(2 * batch_size + n_pixels, device=train.device)
        self.inputs[batch_size : 2 * batch_size] = 1.0

        def step() -> torch.Tensor:
            idx, sigma, noise = self.inputs.split([batch_size, batch_size, n_pixels])
            batch = train[idx.long()]
            with torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False):
                loss = edm_loss(model, batch, sigma, noise.view(batch_size, *self.shape))
            loss.backward()
            opt.step()
            return loss.detach()

        params = [p.detach().clone() for p in model.parameters()]
        states = {p: {k: v.clone() for k, v in s.items()} for p, s in opt.state.items()}
        lr = self.lr.clone()
        self.lr.zero_()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(warmup):
                opt.zero_grad(set_to_none=True)
                step()
        torch.cuda.current_stream().wait_stream(side)
        opt.zero_grad(set_to_none=True)  # the graph's backward allocates the gradients
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.loss = step()
        with torch.no_grad():  # undo the warm-up: weights, Adam's moments and step counters
            for p, saved in zip(model.parameters(), params):
                p.copy_(saved)
            for p, state in opt.state.items():
                for k, v in state.items():
                    if p in states:
                        v.copy_(states[p][k])
                    else:  # made by the warm-up: Adam's fresh state is all zeros
                        v.zero_()
            self.lr.copy_(lr)

    def __call__(self, idx: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor,
                 lr: float) -> torch.Tensor:
        """Run one step on this batch at learning rate ``lr``; the loss (a device tensor)."""
        packed = torch.cat([idx.float(), sigma.float(), noise.reshape(-1)]).pin_memory()
        self.inputs.copy_(packed, non_blocking=True)
        self.lr.fill_(lr)
        self.graph.replay()
        return self.loss


@dataclass
class UNetRun:
    """The outcome of training: EMA model, loss curve and evaluations."""

    ema: EDMDenoiser
    n_params: int
    loss_steps: list[int]
    losses: list[float]
    evaluations: list[dict[str, float]]
    grids: dict[int, torch.Tensor]  # step -> (n_grid, C, H, W) samples in [0, 1]
    seconds: float


def evaluate(
    model: EDMDenoiser, train: torch.Tensor, cfg: EvalConfig, device: torch.device
) -> tuple[dict[str, float], torch.Tensor]:
    """Sample ``model`` from the fixed noise; memorization metrics and the grid samples."""
    noise = fixed_noise(cfg.n_eval, tuple(train.shape[1:]), cfg.noise_seed).to(device)
    sigmas = sigma_steps(cfg.n_steps, cfg.sigma_min, cfg.sigma_max, cfg.rho)
    was_training = model.training
    model.eval()
    samples = heun_sample(model, noise, sigmas, batch_size=cfg.batch_size)
    model.train(was_training)
    exact, dist = memorized(samples, train)
    frac, lo, hi = bootstrap_fraction(exact, n_boot=cfg.n_boot, seed=cfg.noise_seed)
    metrics = {
        "fraction_memorized": frac,
        "ci_low": lo,
        "ci_high": hi,
        "mean_nearest_distance": float(np.mean(dist)),
    }
    grid = to_unit_range(samples[: cfg.n_grid].float().cpu()).clamp(0, 1)
    return metrics, grid


def train_unet(
    images: np.ndarray,
    unet_cfg: UNetConfig,
    cfg: UNetTrainConfig,
    checkpoint: str | Path | None = None,
    device: str | None = None,
    progress: bool = False,
    on_step: Callable[[int], None] | None = None,
    cuda_graph: bool = False,
) -> UNetRun:
    """Train a U-Net denoiser on ``images`` (N, H, W) in [0, 1]; resume from ``checkpoint``
    (or its ``.prev``) by the policy of ``memreg.checkpoint``.

    ``cuda_graph``: on a CUDA device, replay each training step as one captured CUDA graph
    (``GraphedStep``); the same draws and updates, only the launch overhead is gone. On
    other devices it is ignored (a log line says so). ``on_step(step)`` is called after
    every completed step (tests use it to simulate a killed job)."""
    dev = pick_device(device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    train = to_model_range(images)[:, None]
    if tuple(train.shape[-2:]) != (unet_cfg.resolution,) * 2:
        raise ValueError(
            f"images are {tuple(train.shape[-2:])}, the U-Net expects resolution "
            f"{unet_cfg.resolution}"
        )
    torch.manual_seed(cfg.seed)  # the initialization
    model = EDMDenoiser(UNet(unet_cfg)).to(dev)
    ema = copy.deepcopy(model).requires_grad_(False)
    graphed = cuda_graph and dev.type == "cuda"
    opt = adam(model, cfg.lr, capturable=graphed)
    gen = torch.Generator().manual_seed(cfg.seed)
    train_dev = train.to(dev)
    step, loss_steps, losses, evaluations, grids, seconds = 0, [], [], [], {}, 0.0
    path = Path(checkpoint) if checkpoint is not None else None
    expected = ckpt.fingerprint(resume_settings(unet_cfg, cfg, train))
    state = ckpt.load(path, expected) if path is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["optimizer"])
        adam_policy(opt, capturable=graphed)
        gen.set_state(state["generator"])
        step, loss_steps, losses = state["step"], state["loss_steps"], state["losses"]
        evaluations, seconds = state["evaluations"], state["seconds"]
        grids = {int(k): v for k, v in state["grids"].items()}

    def checkpoint_state() -> dict[str, Any]:
        return {
            "fingerprint": expected,
            "model": model.state_dict(),
            "ema": ema.state_dict(),
            "optimizer": opt.state_dict(),
            "generator": gen.get_state(),
            "step": step,
            "loss_steps": loss_steps,
            "losses": losses,
            "evaluations": evaluations,
            "grids": {str(k): v for k, v in grids.items()},
            "seconds": seconds,
        }

    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=dev.type == "cuda")
    if cuda_graph and not graphed:
        log.info("cuda_graph applies to CUDA devices only; training on %s with the plain step", dev)
    if graphed:
        graph_step = GraphedStep(model, opt, train_dev, cfg.batch_size)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.steps, initial=step, desc="training", unit="step", mininterval=5)
    running, n_running, start = 0.0, 0, time.perf_counter()
    params, ema_params = list(model.parameters()), list(ema.parameters())
    while step < cfg.steps:
        idx = torch.randint(train.shape[0], (cfg.batch_size,), generator=gen)
        sigma = draw_noise_levels(cfg.batch_size, gen, cfg.p_mean, cfg.p_std)
        noise = torch.randn((cfg.batch_size, *train.shape[1:]), generator=gen)
        images_seen = (step + 1) * cfg.batch_size
        lr = cfg.lr * min(images_seen / max(cfg.lr_rampup_images, 1e-8), 1.0)
        if graphed:
            loss = graph_step(idx, sigma, noise, lr)
        else:
            for group in opt.param_groups:
                group["lr"] = lr
            with autocast:
                loss = edm_loss(model, train_dev[idx.to(dev)], sigma.to(dev), noise.to(dev))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        step += 1
        halflife = min(cfg.ema_halflife_images, cfg.ema_rampup_ratio * images_seen)
        beta = 0.5 ** (cfg.batch_size / max(halflife, 1e-8))
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, params, 1.0 - beta)
        running, n_running = running + loss.detach(), n_running + 1
        if step % cfg.log_every == 0 or step == cfg.steps:
            loss_steps.append(step)
            losses.append(float(running) / n_running)
            running, n_running = 0.0, 0
            if bar is not None:
                bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
        if step % cfg.eval_every == 0:
            with autocast:
                metrics, grid = evaluate(ema, train_dev, cfg.evaluation, dev)
            evaluations.append({"step": step, **metrics})
            grids[step] = grid
            log.info("step %d: %s", step, metrics)
        if bar is not None:
            bar.update(1)
        if path is not None and (step % cfg.checkpoint_every == 0 or step == cfg.steps):
            seconds_now = seconds + time.perf_counter() - start
            state = checkpoint_state()
            state["seconds"] = seconds_now
            ckpt.save(path, state)
        if on_step is not None:
            on_step(step)
    if bar is not None:
        bar.close()
    seconds += time.perf_counter() - start
    return UNetRun(ema.cpu(), model.net.n_params, loss_steps, losses, evaluations, grids, seconds)


def save_unet(path: str | Path, run: UNetRun, unet_cfg: UNetConfig) -> None:
    """The EMA weights and architecture, for torch.load(..., weights_only=True)."""
    with atomic_path(path) as tmp:
        torch.save({"unet": unet_cfg.record(), "ema": run.ema.state_dict()}, tmp)


def load_unet(path: str | Path, unet_cfg: UNetConfig | None = None) -> EDMDenoiser:
    """An EDMDenoiser with the EMA weights saved by save_unet; refuses another architecture."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    saved = UNetConfig(**state["unet"])
    if unet_cfg is not None and saved.record() != unet_cfg.record():
        diff = differences(saved.record(), unet_cfg.record())
        raise CheckpointError(f"model {path} has another architecture: " + "; ".join(diff))
    model = EDMDenoiser(UNet(saved))
    model.load_state_dict(state["ema"])
    return model
