"""Closed-form scores of the empirical data law p_0 = (1/N) sum_n delta(x_n).

For a process x_t = alpha x_0 + sigma eps (see ``memreg.process``) the empirical
optimal score and its Tikhonov-regularized version are

    s_c(x, t) = (alpha D(x, t) - x) / (sigma^2 + c),      c >= 0,
    D(x, t)   = sum_n w_n x_n,
    w_n       = softmax_n( -|x - alpha x_n|^2 / (2 sigma^2) ).

c = 0 is the minimiser of denoising score matching; c > 0 adds the penalty
gamma^2 E|s|^2 with gamma^2 sigma^2 = c (PAPER.md), which keeps s bounded as
t -> 0: s_c -> (x_n - x) / c. The asymptotic-consistency score (threshold tau)
multiplies s_0 by W = sum_n phi_n / max(sum_n phi_n, tau) <= 1 (see EmpiricalScore).
``make_score`` builds either from a config entry {kind, c | tau}.

Any score used by the samplers is a callable ``(x, t) -> score`` on batches
(x of shape (B, d), t a float or a tensor of shape (B,)), optionally with
``process``, ``c`` and ``denoiser``: the samplers read the Tweedie denoiser
D = (x + (sigma^2 + c) s) / alpha from it.

Numerics: float64; squared distances from direct differences x - alpha x_n
(no |x|^2 + |y|^2 - 2xy expansion); the weighted sum over training points is an
online log-sum-exp over chunks, so the score and the denoiser need O(B * chunk * d)
memory for any N.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .process import Process, make_process

# Bytes of one (B, chunk, d) difference tensor; a few MiB avoid page faults of large temporaries.
DEFAULT_CHUNK_BYTES = 4 * 2**20


def as_time(t: Any, x: torch.Tensor) -> torch.Tensor:
    """t as a tensor on x's device and dtype, shaped to broadcast over rows of x."""
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    return t.reshape(-1, 1) if t.ndim == 1 else t


class EmpiricalScore:
    """The empirical optimal score of ``train`` and its two closed-form regularizations.

    With phi_n = exp(-|x - alpha x_n|^2 / (2 sigma^2)) (unnormalized Gaussian densities),

        s(x, t) = W (alpha D - x) / (sigma^2 + c),    D = sum_n phi_n x_n / sum_n phi_n,
        W       = sum_n phi_n / max(sum_n phi_n, tau)  (= 1 when tau = 0).

    c = tau = 0: the empirical optimal score. c > 0: the Tikhonov-regularized score.
    tau > 0: the asymptotic-consistency ("empirical Bayes") score of PAPER.md,
    w_n = phi_n / max(sum_k phi_k, tau),  s = (alpha sum_n w_n x_n - (sum_n w_n) x) / sigma^2;
    W is computed in log space, log W = LSE_n log phi_n - max(LSE_n log phi_n, log tau).

    ``score(x, t)`` returns s; ``score.denoiser(x, t)`` the matching Tweedie denoiser
    (x + (sigma^2 + c) s) / alpha = x/alpha + W (D - x/alpha); ``score.weights(x, t)``
    the (B, N) softmax weights phi_n / sum_k phi_k.
    """

    def __init__(
        self,
        train: Any,
        c: float = 0.0,
        process: str | Process = "ve_talk",
        *,
        tau: float = 0.0,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float64,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> None:
        if not c >= 0:
            raise ValueError(f"Tikhonov constant c must be >= 0, got {c}")
        if not tau >= 0:
            raise ValueError(f"consistency threshold tau must be >= 0, got {tau}")
        train = torch.as_tensor(train, dtype=dtype, device=device)
        if train.ndim != 2 or train.shape[0] == 0:
            raise ValueError(f"train must have shape (N, d) with N >= 1, got {tuple(train.shape)}")
        self.train = train
        self.c = float(c)
        self.tau = float(tau)
        self.process = make_process(process)
        self.chunk_bytes = int(chunk_bytes)

    @property
    def dim(self) -> int:
        return self.train.shape[1]

    def _prepare(self, x: Any, t: Any):
        x = torch.as_tensor(x, dtype=self.train.dtype, device=self.train.device)
        tt = as_time(t, x)
        return x, self.process.alpha(tt), self.process.sigma2(tt)

    def _logits(self, x, alpha, sigma2, train):
        """log phi_n = -|x - alpha x_n|^2 / (2 sigma^2) for the rows of x and of ``train``."""
        diff = x[:, None, :] - alpha[..., None] * train[None, :, :]
        return -(diff * diff).sum(-1) / (2.0 * sigma2)

    def weights(self, x: Any, t: Any) -> torch.Tensor:
        """The (B, N) weights phi_n / sum_k phi_k, summing to 1 per row.

        A diagnostic for small N: unlike the score and the denoiser it is not chunked,
        so it holds a (B, N, d) array."""
        x, alpha, sigma2 = self._prepare(x, t)
        return torch.softmax(self._logits(x, alpha, sigma2, self.train), dim=1)

    def _posterior(self, x, alpha, sigma2):
        """(D, log sum_n phi_n) by an online log-sum-exp over chunks of training points."""
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
        return acc / norm, m + torch.log(norm)

    def _mass(self, log_total: torch.Tensor) -> torch.Tensor:
        """W = sum phi / max(sum phi, tau), from log sum phi."""
        if self.tau == 0.0:
            return torch.ones_like(log_total)
        log_tau = torch.full_like(log_total, math.log(self.tau))
        return torch.exp(log_total - torch.maximum(log_total, log_tau))

    def posterior_mean(self, x: Any, t: Any) -> torch.Tensor:
        """D(x, t) = sum_n phi_n x_n / sum_n phi_n, the empirical denoiser."""
        return self._posterior(*self._prepare(x, t))[0]

    def denoiser(self, x: Any, t: Any) -> torch.Tensor:
        """Tweedie's denoiser of this score: (x + (sigma^2 + c) s) / alpha."""
        x, alpha, sigma2 = self._prepare(x, t)
        mean, log_total = self._posterior(x, alpha, sigma2)
        if self.tau == 0.0:
            return mean
        return x / alpha + self._mass(log_total) * (mean - x / alpha)

    def __call__(self, x: Any, t: Any) -> torch.Tensor:
        x, alpha, sigma2 = self._prepare(x, t)
        mean, log_total = self._posterior(x, alpha, sigma2)
        return self._mass(log_total) * (alpha * mean - x) / (sigma2 + self.c)


SCORE_KINDS = {"empirical": (), "tikhonov": ("c",), "consistency": ("tau",)}


def make_score(
    train: Any, kind: str = "empirical", process: str | Process = "ve_talk", **params: Any
) -> EmpiricalScore:
    """A closed-form score named by kind and parameters, as config writes it:
    ``{kind: empirical}``, ``{kind: tikhonov, c: 1e-3}``, ``{kind: consistency, tau: 0.1}``."""
    if kind not in SCORE_KINDS:
        raise ValueError(f"unknown score kind {kind!r}; allowed: {sorted(SCORE_KINDS)}")
    allowed = SCORE_KINDS[kind]
    extra = sorted(set(params) - set(allowed))
    missing = sorted(set(allowed) - set(params))
    if extra or missing:
        raise ValueError(
            f"score kind {kind!r} takes parameters {list(allowed)}; "
            f"got unexpected {extra} / missing {missing}"
        )
    return EmpiricalScore(train, process=process, **{k: float(v) for k, v in params.items()})


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
