"""Training an EDM U-Net on a handful of images by the authors' protocol, with exact resume
(family K).

Training runs in epochs as a DataLoader with ``shuffle=True`` does: every epoch visits the N
training images once, in a fresh random order, ``batch_size`` at a time (batch_size divides
N). A step draws a noise level per image (ln sigma ~ N(P_mean, P_std^2)) and the noise,
takes the gradient of ``memreg.unet.edm.edm_loss``, cleans it (``clean_gradients``: nan -> 0,
+-inf -> +-1e5, as the authors' script does) and takes an Adam step at the learning rate

    lr_k = lr min(n_k / rampup_images, 1),    n_k = 1 + k B,

k the steps done before this one and B the batch (n_k is the authors' image counter, which
starts at 1); then the EMA of the weights follows EDM's half-life rule on the same counter

    ema <- beta ema + (1 - beta) theta,   beta = 0.5^(B / h_k),
    h_k = min(halflife_images, rampup_ratio n_k).

Every length (the run, evaluations, checkpoints, the loss log) is counted in images seen.
Every ``eval_every`` images the EMA model samples ``n_eval`` images from fixed noise (Heun,
``memreg.unet.edm.heun_sample``): the fraction whose binarization equals a training image,
with a bootstrap interval, the authors' squared distance to the nearest training image (its
mean and maximum over the samples), the RMS distance, and the first ``n_grid`` samples for
the sample-grid figure.

Every random draw of training (the epochs' orders, noise levels and noise) comes from one
CPU generator seeded by ``seed``, as does the initialization, so a run on CPU is
reproducible bit for bit and a resumed run ends with the same weights as an uninterrupted
one. Checkpoints (every ``checkpoint_every`` images) hold the model, EMA, optimizer,
generator state, the current epoch's order, the images seen, losses and evaluations;
``memreg.checkpoint`` writes them atomically, the previous one kept as ``<name>.prev``; a
corrupt latest checkpoint is set aside (``<name>.corrupt``) and the run resumes from the
previous good one. The loop runs with subnormal floats flushed to zero
(``memreg.numerics.flush_subnormals``): Adam's moments of units without gradient decay into
that range, where x86 arithmetic is many times slower.
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
from ..errors import SettingError
from ..io import atomic_path
from ..metrics import N_BOOT, bootstrap_fraction
from ..numerics import flush_subnormals
from .edm import (
    RHO,
    SIGMA_MAX,
    SIGMA_MIN,
    UNIT_RANGE,
    EDMDenoiser,
    check_schedule,
    draw_noise_levels,
    edm_loss,
    fixed_noise,
    heun_sample,
    memorized,
    sigma_steps,
    to_model_range,
    to_unit_range,
)
from .network import UNet, UNetConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalConfig:
    """How the EMA model is sampled during training. Bad settings raise
    :class:`memreg.errors.SettingError`."""

    n_eval: int = 100  # samples for the memorized fraction
    n_grid: int = 16  # of those, the first n_grid are kept for the grid figure
    n_steps: int = 40  # Heun steps
    sigma_min: float = SIGMA_MIN
    sigma_max: float = SIGMA_MAX
    rho: float = RHO
    noise_seed: int = 0
    n_boot: int = N_BOOT
    batch_size: int = 100

    def __post_init__(self) -> None:
        for key in ("n_eval", "n_boot", "batch_size"):
            if getattr(self, key) < 1:
                raise SettingError(key, getattr(self, key), "an integer >= 1")
        check_schedule(self.n_steps, self.sigma_min, self.sigma_max)
        if not 1 <= self.n_grid <= self.n_eval:
            raise SettingError("n_grid", self.n_grid, f"from 1 to n_eval = {self.n_eval}")


PRECISIONS = ("float32", "bfloat16")


@dataclass(frozen=True)
class UNetTrainConfig:
    """Training settings; the defaults are the authors' script (RectangleImages/NN/main.py of
    baptistar/DiffusionModelDynamics; docs/settings.md, family K, names the source of each).
    Lengths count images seen. Bad settings raise :class:`memreg.errors.SettingError`."""

    images: int = 100_000  # 50,000 epochs of N = 2
    batch_size: int = 1
    value_range: tuple[float, float] = (0.0, 1.0)  # pixel values the network sees
    lr: float = 1e-3
    lr_rampup_images: int = 10_000_000
    ema_halflife_images: int = 500_000
    ema_rampup_ratio: float = 0.05
    clean_gradients: bool = True  # nan -> 0, +-inf -> +-1e5 before each step
    precision: str = "float32"  # or bfloat16: autocast on CUDA
    p_mean: float = -1.2
    p_std: float = 1.2
    seed: int = 0
    checkpoint_every: int = 20_000
    eval_every: int = 200  # 100 epochs of N = 2
    log_every: int = 200  # images per point of the loss curve (their mean loss)
    evaluation: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "value_range", tuple(float(v) for v in self.value_range))
        keys = ("images", "batch_size", "checkpoint_every", "eval_every", "log_every")
        for key in keys:
            if getattr(self, key) < 1:
                raise SettingError(key, getattr(self, key), "an integer >= 1")
        for key in keys[2:] + ("images",):
            if getattr(self, key) % self.batch_size:
                raise SettingError(key, getattr(self, key),
                                   f"a multiple of batch_size = {self.batch_size} (images seen "
                                   "at the end of a step)")  # fmt: skip
        if self.eval_every > self.images:
            raise SettingError("eval_every", self.eval_every, f"at most images = {self.images}")
        if self.images % self.eval_every:
            raise SettingError("images", self.images,
                               f"a multiple of eval_every = {self.eval_every} (the final model "
                               "is always evaluated)")  # fmt: skip
        if not self.lr > 0:
            raise SettingError("lr", self.lr, "a number > 0")
        if len(self.value_range) != 2 or not self.value_range[0] < self.value_range[1]:
            raise SettingError("value_range", list(self.value_range), "[low, high] with low < high")
        if self.precision not in PRECISIONS:
            raise SettingError("precision", self.precision, f"one of {list(PRECISIONS)}")

    @classmethod
    def from_config(cls, train: dict, evaluation: dict) -> UNetTrainConfig:
        """The settings as config.yaml writes them: sections ``unet.train`` and
        ``unet.evaluation``."""
        return cls(**train, evaluation=EvalConfig(**evaluation))

    @property
    def steps(self) -> int:
        """Optimizer steps of the run: images / batch_size."""
        return self.images // self.batch_size

    def eval_images(self) -> list[int]:
        """The images seen at each evaluation."""
        return list(range(self.eval_every, self.images + 1, self.eval_every))

    def learning_rate(self, images_before: int) -> float:
        """lr min(n / rampup_images, 1) for the step taken after ``images_before`` images,
        n = 1 + images_before (the authors' counter)."""
        return self.lr * min((1 + images_before) / max(self.lr_rampup_images, 1e-8), 1.0)

    def ema_beta(self, images_before: int) -> float:
        """beta = 0.5^(B / h), h = min(halflife_images, rampup_ratio n), n = 1 + images_before."""
        n = 1 + images_before
        halflife = min(self.ema_halflife_images, self.ema_rampup_ratio * n)
        return 0.5 ** (self.batch_size / max(halflife, 1e-8))


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """N / batch_size: an epoch is whole batches, so batch_size must divide N."""
    if n_train % batch_size:
        raise SettingError("batch_size", batch_size,
                           f"a divisor of the number of training images N = {n_train} (an "
                           "epoch is N / batch_size whole batches)")  # fmt: skip
    return n_train // batch_size


def epoch_order(n_train: int, batch_size: int, generator: torch.Generator) -> torch.Tensor:
    """One epoch's batches, (N / batch_size, batch_size): a random permutation of the N
    training images drawn from ``generator``, so each image is visited once."""
    n_steps = steps_per_epoch(n_train, batch_size)
    return torch.randperm(n_train, generator=generator).view(n_steps, batch_size)


def clean_gradients_(params: list[torch.Tensor]) -> None:
    """The authors' clean-up of every gradient, in place: nan -> 0, +inf -> 1e5, -inf -> -1e5."""
    grads = [p.grad for p in params if p.grad is not None]
    for g in grads:
        torch.nan_to_num(g, nan=0.0, posinf=1e5, neginf=-1e5, out=g)


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
            model.parameters(),
            lr=lr_tensor,
            betas=(0.9, 0.999),
            eps=1e-8,
            capturable=True,
            foreach=True,
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
    """One training step (gather the batch, EDM loss (under bf16 autocast if ``bf16``),
    backward, the gradients' clean-up if ``clean``, Adam)
    captured once as a CUDA graph and replayed: the batch's draws (made on the CPU by the
    run's generator, as in the plain step) are copied into static device buffers, the
    learning rate into the optimizer's device tensor, and the graph re-runs every kernel
    of the step with a single launch. Capture needs a few warm-up steps (cuDNN picks its
    kernels, Adam makes its state); they run at learning rate 0 and are then undone, so
    the model and optimizer enter the first replayed step exactly as they were."""

    def __init__(
        self,
        model: EDMDenoiser,
        opt: torch.optim.Adam,
        train: torch.Tensor,
        batch_size: int,
        bf16: bool = False,
        clean: bool = True,
        warmup: int = 3,
    ) -> None:
        self.shape, self.lr = tuple(train.shape[1:]), opt.param_groups[0]["lr"]
        n_pixels = batch_size * train[0].numel()
        # idx, sigma and noise of one step, packed into one buffer: one copy per step
        self.inputs = torch.zeros(2 * batch_size + n_pixels, device=train.device)
        self.inputs[batch_size : 2 * batch_size] = 1.0

        def step() -> torch.Tensor:
            idx, sigma, noise = self.inputs.split([batch_size, batch_size, n_pixels])
            batch = train[idx.long()]
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16, cache_enabled=False):
                loss = edm_loss(model, batch, sigma, noise.view(batch_size, *self.shape))
            loss.backward()
            if clean:
                clean_gradients_(list(model.parameters()))
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

    def __call__(
        self, idx: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor, lr: float
    ) -> torch.Tensor:
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
    loss_images: list[int]  # images seen at the end of each block of log_every images
    losses: list[float]
    evaluations: list[dict[str, float]]
    grids: dict[int, torch.Tensor]  # images seen -> (n_grid, C, H, W) samples in [0, 1]
    seconds: float


def evaluate(
    model: EDMDenoiser,
    train: torch.Tensor,
    cfg: EvalConfig,
    device: torch.device,
    value_range: tuple[float, float] = UNIT_RANGE,
) -> tuple[dict[str, float], torch.Tensor]:
    """Sample ``model`` from the fixed noise; memorization metrics and the grid samples.
    ``train`` and the samples are in the network's values (``value_range``); the metrics
    are computed on pixel values in [0, 1]."""
    noise = fixed_noise(cfg.n_eval, tuple(train.shape[1:]), cfg.noise_seed).to(device)
    sigmas = sigma_steps(cfg.n_steps, cfg.sigma_min, cfg.sigma_max, cfg.rho)
    was_training = model.training
    model.eval()
    samples = to_unit_range(heun_sample(model, noise, sigmas, batch_size=cfg.batch_size).float(),
                            value_range)  # fmt: skip
    model.train(was_training)
    exact, sq = memorized(samples, to_unit_range(train, value_range))
    frac, lo, hi = bootstrap_fraction(exact, n_boot=cfg.n_boot, seed=cfg.noise_seed)
    n_pixels = train[0].numel()
    metrics = {
        "fraction_memorized": frac,
        "ci_low": lo,
        "ci_high": hi,
        "mean_nearest_distance": float(np.mean(np.sqrt(sq / n_pixels))),
        "sq_distance_mean": float(np.mean(sq)),
        "sq_distance_max": float(np.max(sq)),
    }
    grid = samples[: cfg.n_grid].cpu().clamp(0, 1)
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
    """Train a U-Net denoiser on ``images`` (N, H, W) in [0, 1] by the protocol of the module
    docstring; resume from ``checkpoint`` (or its ``.prev``) by the policy of
    ``memreg.checkpoint``.

    ``cuda_graph``: on a CUDA device, replay each training step as one captured CUDA graph
    (``GraphedStep``); the same draws and updates, only the launch overhead is gone. On
    other devices it is ignored (a log line says so). ``on_step(images_seen)`` is called
    after every completed step (tests use it to simulate a killed job)."""
    dev = pick_device(device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    train = to_model_range(images, cfg.value_range)[:, None]
    n_train, batch = train.shape[0], cfg.batch_size
    per_epoch = steps_per_epoch(n_train, batch)  # refuses a batch that does not divide N
    if tuple(train.shape[-2:]) != (unet_cfg.resolution,) * 2:
        raise ValueError(
            f"images are {tuple(train.shape[-2:])}, the U-Net expects resolution "
            f"{unet_cfg.resolution}"
        )
    torch.manual_seed(cfg.seed)  # the initialization
    model = EDMDenoiser(UNet(unet_cfg)).to(dev)
    ema = copy.deepcopy(model).requires_grad_(False)
    graphed = cuda_graph and dev.type == "cuda"
    bf16 = cfg.precision == "bfloat16" and dev.type == "cuda"
    opt = adam(model, cfg.lr, capturable=graphed)
    gen = torch.Generator().manual_seed(cfg.seed)
    train_dev = train.to(dev)
    seen, loss_images, losses, evaluations, grids, seconds = 0, [], [], [], {}, 0.0
    order = torch.empty(0, batch, dtype=torch.long)  # the current epoch's batches
    path = Path(checkpoint) if checkpoint is not None else None
    expected = ckpt.fingerprint(resume_settings(unet_cfg, cfg, train))
    state = ckpt.load(path, expected) if path is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["optimizer"])
        adam_policy(opt, capturable=graphed)
        gen.set_state(state["generator"])
        seen, order = state["images"], state["order"]
        loss_images, losses = state["loss_images"], state["losses"]
        evaluations, seconds = state["evaluations"], state["seconds"]
        grids = {int(k): v for k, v in state["grids"].items()}

    def checkpoint_state() -> dict[str, Any]:
        return {
            "fingerprint": expected,
            "model": model.state_dict(),
            "ema": ema.state_dict(),
            "optimizer": opt.state_dict(),
            "generator": gen.get_state(),
            "step": seen // batch,  # memreg.checkpoint names it in its resume line
            "images": seen,
            "order": order,
            "loss_images": loss_images,
            "losses": losses,
            "evaluations": evaluations,
            "grids": {str(k): v for k, v in grids.items()},
            "seconds": seconds,
        }

    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16)
    if cuda_graph and not graphed:
        log.info("cuda_graph applies to CUDA devices only; training on %s with the plain step", dev)
    if graphed:
        graph_step = GraphedStep(model, opt, train_dev, batch, bf16, cfg.clean_gradients)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.images, initial=seen, desc="training", unit="img", mininterval=5)
    running, n_running, start = 0.0, 0, time.perf_counter()
    params, ema_params = list(model.parameters()), list(ema.parameters())
    with flush_subnormals():
        while seen < cfg.images:
            k = (seen // batch) % per_epoch  # the step's place in its epoch
            if k == 0:
                order = epoch_order(n_train, batch, gen)
            idx = order[k]
            sigma = draw_noise_levels(batch, gen, cfg.p_mean, cfg.p_std)
            noise = torch.randn((batch, *train.shape[1:]), generator=gen)
            lr = cfg.learning_rate(seen)
            if graphed:
                loss = graph_step(idx, sigma, noise, lr)
            else:
                for group in opt.param_groups:
                    group["lr"] = lr
                with autocast:
                    loss = edm_loss(model, train_dev[idx.to(dev)], sigma.to(dev), noise.to(dev))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.clean_gradients:
                    clean_gradients_(params)
                opt.step()
            beta = cfg.ema_beta(seen)
            seen += batch
            with torch.no_grad():
                torch._foreach_lerp_(ema_params, params, 1.0 - beta)
            running, n_running = running + loss.detach(), n_running + 1
            if seen % cfg.log_every == 0 or seen == cfg.images:
                loss_images.append(seen)
                losses.append(float(running) / n_running)
                running, n_running = 0.0, 0
                if bar is not None:
                    bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
            if seen % cfg.eval_every == 0:
                with autocast:
                    metrics, grid = evaluate(ema, train_dev, cfg.evaluation, dev, cfg.value_range)
                evaluations.append(
                    {"images": seen, "epoch": seen / n_train, "step": seen // batch, **metrics}
                )
                grids[seen] = grid
                log.info("images %d (epoch %g): %s", seen, seen / n_train, metrics)
            if bar is not None:
                bar.update(batch)
            if path is not None and (seen % cfg.checkpoint_every == 0 or seen == cfg.images):
                seconds_now = seconds + time.perf_counter() - start
                state = checkpoint_state()
                state["seconds"] = seconds_now
                ckpt.save(path, state)
            if on_step is not None:
                on_step(seen)
    if bar is not None:
        bar.close()
    seconds += time.perf_counter() - start
    return UNetRun(ema.cpu(), model.net.n_params, loss_images, losses, evaluations, grids, seconds)


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
