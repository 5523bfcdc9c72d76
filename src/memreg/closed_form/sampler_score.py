"""What the samplers use of a score: the score protocol.

A score is any callable ``score(x, t) -> s`` (x of shape (B, d); t a float, or a tensor of
shape (B,) with one time per row). It may offer more, and the samplers use what it offers:

    process                          the forward process (else pass process=...)
    dim                              d (else pass dim=... or x_init)
    c                                the Tikhonov constant of D = (x + (sigma^2 + c) s) / alpha
    denoiser(x, t, check=False)      its own D(x, t) (else D from s, as above); the samplers
                                     pass check=False: their grids may leave (0, T] (the
                                     property tests integrate in s beyond t = T)
    scaled_denoiser(y, sigma_hat2)   D in y = x / alpha at noise sigma_hat^2 (shape (B, 1))
                                     alone, for every process (no t computed)
    nearest points, for the lock of the adaptive sampler (memreg.closed_form.lock):
      lockable                       True when D is the softmax mean of ``train`` (no mass term)
      train                          the (N, d) points of that softmax
      nearest_two(y), scaled_denoiser_and_nearest(y, sigma_hat2)
    inference_safe                   True when the score needs no autograd (the samplers then
                                     run in torch's inference mode)

``SamplerScore.of`` reads these once; the samplers ask nothing else of a score.
``EmpiricalScore`` (memreg.closed_form.score) offers all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from .process import Process, make_process

Score = Callable[[torch.Tensor, Any], torch.Tensor]
SMALL_WORK = 2**16  # B N d below which the samplers run on one intra-op thread


@dataclass(frozen=True)
class SamplerScore:
    """A score and what it offers the samplers (module docstring)."""

    score: Score
    process: Process
    c: float
    dim: int | None
    train: torch.Tensor | None
    scaled_denoiser: Callable | None
    lockable: bool
    inference_safe: bool

    @classmethod
    def of(cls, score: Score, process: str | Process | None = None) -> SamplerScore:
        """The view of ``score``; ``process`` overrides the score's own."""
        if process is None and not hasattr(score, "process"):
            raise ValueError("the score has no .process; pass process=...")
        train = getattr(score, "train", None)
        return cls(
            score=score,
            process=score.process if process is None else make_process(process),
            c=float(getattr(score, "c", 0.0)),
            dim=getattr(score, "dim", None),
            train=train if isinstance(train, torch.Tensor) else None,
            scaled_denoiser=getattr(score, "scaled_denoiser", None),
            lockable=bool(getattr(score, "lockable", False)),
            inference_safe=bool(getattr(score, "inference_safe", False)),
        )

    def __call__(self, x: torch.Tensor, t: Any) -> torch.Tensor:
        return self.score(x, t)

    def denoise(self, x: torch.Tensor, t: Any) -> torch.Tensor:
        """D(x, t) = (x + (sigma^2 + c) s(x, t)) / alpha, or the score's own ``denoiser``.

        t is a float or a tensor of shape (B,) (one time per row of x)."""
        own = getattr(self.score, "denoiser", None)
        if own is not None:
            return own(x, t, check=False)
        proc, c = self.process, self.c
        if isinstance(t, torch.Tensor) and t.ndim == 1:
            sigma2, alpha = proc.sigma2(t)[:, None], proc.alpha(t)[:, None]
            return (x + (sigma2 + c) * self.score(x, t)) / alpha
        return (x + (float(proc.sigma2(t)) + c) * self.score(x, t)) / float(proc.alpha(t))

    def default_device(self, device: Any) -> Any:
        """``device``, else the device of the score's points, else the CPU."""
        if device is not None:
            return device
        return self.train.device if self.train is not None else "cpu"

    @contextmanager
    def mode(self, x: torch.Tensor):
        """The samplers' context. One intra-op thread on the CPU while the work per
        evaluation is small (B N d < 2^16 for a score with points): the samplers are then
        bound by dispatch, and waking a second thread per tiny op costs more than it gains
        (much more on a busy machine); above it the (B, N) blocks split over the threads
        (2000 samples of 20 points in d = 2: two threads 15 % faster than one on an idle
        2-core machine, benchmarks/README.md). And torch's inference mode for a score that
        needs no autograd, which skips autograd's bookkeeping in every op (6 small ops:
        32 -> 17 us on this machine; the samplers are bound by such ops)."""
        small = self.train is not None and x.numel() * self.train.shape[0] < SMALL_WORK
        n = torch.get_num_threads()
        few = small and x.device.type == "cpu" and n > 1
        if few:
            torch.set_num_threads(1)
        try:
            if self.inference_safe:
                with torch.inference_mode():
                    yield
            else:
                yield
        finally:
            if few:
                torch.set_num_threads(n)
