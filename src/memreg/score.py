"""Closed-form scores of the empirical data law p_0 = (1/N) sum_n delta(x_n).

For a process x_t = alpha x_0 + sigma eps (see ``memreg.process``) the empirical
optimal score and its Tikhonov-regularized version are

    s_c(x, t) = (alpha D(x, t) - x) / (sigma^2 + c),      c >= 0,
    D(x, t)   = sum_n w_n x_n,
    w_n       = softmax_n( -|x - alpha x_n|^2 / (2 sigma^2) ).

c = 0 is the minimiser of denoising score matching; c > 0 adds the penalty
gamma^2 E|s|^2 with gamma^2 sigma^2 = c (PAPER.md), which keeps s bounded as
t -> 0: s_c -> (x_n - x) / c.

Any score used by the samplers is a callable ``(x, t) -> score`` on batches
(x of shape (B, d), t a float or a tensor of shape (B,)), optionally with
``process``, ``c`` and ``denoiser``: the samplers read the Tweedie denoiser
D = (x + (sigma^2 + c) s) / alpha from it.

Numerics: float64; squared distances from direct differences x - alpha x_n
(no |x|^2 + |y|^2 - 2xy expansion); the weighted sum over training points is an
online log-sum-exp over chunks, so memory is O(B * chunk * d) for any N.
"""

from __future__ import annotations

from typing import Any

import torch

from .process import Process, make_process

DEFAULT_CHUNK_BYTES = 64 * 2**20


def as_time(t: Any, x: torch.Tensor) -> torch.Tensor:
    """t as a tensor on x's device and dtype, shaped to broadcast over rows of x."""
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    return t.reshape(-1, 1) if t.ndim == 1 else t


class EmpiricalScore:
    """The empirical optimal score of ``train`` (c = 0), or its Tikhonov version (c > 0).

    ``score(x, t)`` returns s_c(x, t); ``score.denoiser(x, t)`` returns D(x, t);
    ``score.weights(x, t)`` returns the (B, N) softmax weights w_n.
    """

    def __init__(
        self,
        train: Any,
        c: float = 0.0,
        process: str | Process = "ve_talk",
        *,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float64,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> None:
        if c < 0:
            raise ValueError(f"Tikhonov constant c must be >= 0, got {c}")
        train = torch.as_tensor(train, dtype=dtype, device=device)
        if train.ndim != 2 or train.shape[0] == 0:
            raise ValueError(f"train must have shape (N, d) with N >= 1, got {tuple(train.shape)}")
        self.train = train
        self.c = float(c)
        self.process = make_process(process)
        self.chunk_bytes = int(chunk_bytes)

    @property
    def dim(self) -> int:
        return self.train.shape[1]

    def _prepare(self, x: Any, t: Any):
        x = torch.as_tensor(x, dtype=self.train.dtype, device=self.train.device)
        tt = as_time(t, x)
        alpha = self.process.alpha(tt)
        sigma2 = self.process.sigma2(tt)
        return x, alpha, sigma2

    def _logits(self, x, alpha, sigma2, train):
        """-|x - alpha x_n|^2 / (2 sigma^2) for the rows of x and the rows of ``train``."""
        diff = x[:, None, :] - alpha[..., None] * train[None, :, :]
        return -(diff * diff).sum(-1) / (2.0 * sigma2)

    def weights(self, x: Any, t: Any) -> torch.Tensor:
        """The (B, N) weights w_n(x, t), summing to 1 per row."""
        x, alpha, sigma2 = self._prepare(x, t)
        return torch.softmax(self._logits(x, alpha, sigma2, self.train), dim=1)

    def denoiser(self, x: Any, t: Any) -> torch.Tensor:
        """D(x, t) = sum_n w_n x_n, by an online log-sum-exp over chunks of training points."""
        x, alpha, sigma2 = self._prepare(x, t)
        B, d = x.shape
        chunk = max(1, self.chunk_bytes // (max(B, 1) * d * x.element_size()))
        m = torch.full((B, 1), -torch.inf, dtype=x.dtype, device=x.device)
        norm = torch.zeros((B, 1), dtype=x.dtype, device=x.device)
        acc = torch.zeros((B, d), dtype=x.dtype, device=x.device)
        for start in range(0, self.train.shape[0], chunk):
            part = self.train[start : start + chunk]
            logits = self._logits(x, alpha, sigma2, part)
            m_new = torch.maximum(m, logits.max(dim=1, keepdim=True).values)
            rescale = torch.exp(m - m_new)
            p = torch.exp(logits - m_new)
            norm = norm * rescale + p.sum(dim=1, keepdim=True)
            acc = acc * rescale + p @ part
            m = m_new
        return acc / norm

    def __call__(self, x: Any, t: Any) -> torch.Tensor:
        x, alpha, sigma2 = self._prepare(x, t)
        return (alpha * self.denoiser(x, t) - x) / (sigma2 + self.c)


def conditional_score(train: Any, labels: Any, y: Any, **kwargs: Any) -> EmpiricalScore:
    """Conditional empirical score at label y: the empirical score of {x_n : label_n = y}."""
    labels = torch.as_tensor(labels)
    mask = labels == torch.as_tensor(y, dtype=labels.dtype)
    if mask.ndim > 1:
        mask = mask.all(dim=tuple(range(1, mask.ndim)))
    if not bool(mask.any()):
        raise ValueError(f"no training point has label {y!r}")
    train = torch.as_tensor(train)
    return EmpiricalScore(train[mask.to(train.device)], **kwargs)
