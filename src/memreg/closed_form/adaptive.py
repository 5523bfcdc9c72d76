"""The default sampler: Dormand-Prince 5(4) with a step and an s per sample.

It integrates in u = Lambda(s) (memreg.closed_form.exponential), the variable in which the
probability-flow ODE reads dy/du = D(y, s(u)) - y. Each sample carries its own s and step; a
step is accepted when its error estimate (the fifth- minus the embedded fourth-order result)
is below atol + rtol |y| in every coordinate. For a lockable score (the empirical score,
tau = 0) a sample leaves the integration as soon as its weights are provably locked onto its
nearest training point (memreg.closed_form.lock), so a sample spends its steps only while
its weights move.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import lock
from .exponential import lambda_rows
from .process import Process
from .sampler_score import SamplerScore

INITIAL_STEP = 0.3  # first step in s = -log sigma_hat (fewest evaluations of 0.1-0.5, 3 processes)

# Dormand & Prince (1980), RK5(4)7FM: nodes c, stages a, fifth-order weights b (= the last
# row of a: first same as last), and e = b - b_hat, the difference with the embedded
# fourth-order weights.
DP_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
DP_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
DP_E = (71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40)


def _stage_s(proc: Process, c: float, s0, s1, lam, frac: float) -> torch.Tensor:
    """The s at which Lambda(s0, s) = frac * Lambda(s0, s1): s0 + frac (s1 - s0) for c = 0;
    for alpha = 1 from sigma_hat^2 = sigma_hat_0^2 e^{-2 frac Lambda} + c expm1(-2 frac Lambda);
    else by Newton's method on Lambda(s0, s), whose derivative is lambda(s)."""
    if c == 0.0:
        return s0 + frac * (s1 - s0)
    target = frac * lam
    if proc.unit_alpha:
        sh2 = torch.exp(-2.0 * s0 - 2.0 * target) + c * torch.expm1(-2.0 * target)
        return torch.minimum(-0.5 * torch.log(sh2), s1)
    s = s0 + frac * (s1 - s0)
    for _ in range(4):
        sh2 = torch.exp(-2.0 * s)
        rate = sh2 / (sh2 + c / proc.alpha(proc.t_of_s(s)) ** 2)
        s = torch.clamp(s - (lambda_rows(proc, c, s0, s) - target) / rate, s0, s1)
    return s


def adaptive_rk(score: SamplerScore, x, t_max, t_min, rtol, atol) -> np.ndarray:
    """Dormand-Prince 5(4) in u = Lambda(s), where dy/du = D(y, s(u)) - y, with a step and
    an s per sample; the lock for a lockable score (module docstring).

    The step is chosen in s (h, grown or shrunk by the PI factor 0.9 err^{-0.7/5}
    err_prev^{0.4/5} of Gustafsson, err_prev that of the row's last accepted step, clipped to
    [0.2, 10]);
    its u-length is H = Lambda(s, s + h) and stage i sits where Lambda(s, s_i) = c_i H. A
    step is accepted when err = max_k |H sum_i e_i k_i| / (atol + rtol max(|y|, |y'|)) <= 1
    in every coordinate k. Rows leave the batch when they reach t_min or lock; the lock test
    reads the two nearest training points off the last stage, which sits at the new y, once
    some row's sigma_hat is small enough to lock at all (2 K sigma_hat^2 < max_n r_n^2)."""
    proc, c = score.process, score.c
    like = dict(dtype=x.dtype, device=x.device)
    s_end = float(proc.s_of_t(t_min))
    alpha_end = float(proc.alpha(t_min))
    lock_k = lock.lock_margin(score, atol)
    if lock_k is not None:
        neighbour_sq = lock.neighbour_sq(score)
        reach2 = math.inf if neighbour_sq is None else float(neighbour_sq.max())
        # rows can lock only where 2 K sigma_hat^2 < max_n r_n^2, i.e. beyond s_lock
        s_lock = -0.5 * math.log(reach2 / (2.0 * lock_k)) if lock_k > 0 else -math.inf
    slope = _slope(score, t_min, t_max)
    n, d = x.shape
    out = torch.empty_like(x)
    idx = torch.arange(n, device=x.device)
    s = torch.full((n,), float(proc.s_of_t(t_max)), **like)
    h = torch.full((n,), INITIAL_STEP, **like)
    y = x / float(proc.alpha(t_max))
    a_rows = torch.tensor([row + (0.0,) * (7 - len(row)) for row in DP_A], **like).split(1)
    e = torch.tensor(DP_E, **like)[None]
    k1 = slope(s, torch.exp(-2.0 * s)[:, None], y, torch.empty_like(y))
    err_prev = torch.ones_like(s)
    while idx.numel() > 0:
        B = idx.numel()
        s1 = torch.clamp(s + h, max=s_end)
        stages = _Stages(proc, c, s, s1)
        H = stages.lam[:, None]
        ks = torch.zeros((7, B, d), **like)  # zeros: the padded rows of a_rows read them all
        k = ks.unbind(0)
        flat = ks.view(7, B * d)
        k[0].copy_(k1)
        test_lock = lock_k is not None and float(s1.max()) > s_lock
        for i in range(1, 7):
            y_i = torch.addcmul(y, H, torch.mm(a_rows[i], flat).view(B, d))
            s_i, sigma_hat2 = stages.noise(i)
            if i < 6 or not test_lock:
                slope(s_i, sigma_hat2, y_i, k[i])
            else:  # the last stage: y_i is the new y, whose two nearest the lock test needs
                found = score.score.scaled_denoiser_and_nearest(y_i, sigma_hat2)
                mean, d1_sq, d2_sq, nearest = found
                torch.sub(mean, y_i, out=k[i])
        y_new = y_i  # the seventh stage point is the fifth-order solution (FSAL)
        err = torch.mm(e, flat).view(B, d).abs_().mul_(H)
        err = err.div_(torch.maximum(y.abs(), y_new.abs()).mul_(rtol).add_(atol)).amax(dim=1)
        ok = err <= 1.0
        # PI control (Gustafsson): 0.9 err^{-0.7/5} err_prev^{0.4/5}, err_prev the last accepted
        grow = 0.9 * err.clamp(min=1e-12).pow(-0.14) * err_prev.clamp(min=1e-4).pow(0.08)
        h = h * torch.clamp(grow, 0.2, 10.0)
        err_prev = torch.where(ok, err, err_prev)
        ok_rows = ok[:, None]
        y = torch.where(ok_rows, y_new, y)
        s = torch.where(ok, s1, s)
        k1 = torch.where(ok_rows, k[6], k1)
        done = ok & (s1 >= s_end)
        locked = None
        if test_lock:
            locked = ok & lock.locked(d1_sq, d2_sq, nearest, stages.sh2_1, lock_k, neighbour_sq)
            done = done | locked
        if bool(done.any()):
            ends = y[done]
            if locked is not None and bool(locked.any()):
                sh2, x_n = stages.sh2_1[locked], score.train[nearest[locked]]
                ends[locked[done]] = lock.jump(proc, c, y[locked], s[locked], sh2, s_end, x_n)
            out[idx[done]] = alpha_end * ends
            keep = (~done).nonzero().squeeze(1)
            idx, s, h, y, k1, err_prev = (v[keep] for v in (idx, s, h, y, k1, err_prev))
    return out.cpu().numpy()


def _slope(score: SamplerScore, t_min: float, t_max: float):
    """dy/du = D - y at a stage, written into ``out``, as a function of (s, sigma_hat^2, y,
    out) per row (sigma_hat^2 of shape (B, 1)): by the score's ``scaled_denoiser`` from
    sigma_hat^2 alone where it has one (no t needed); else by ``denoise`` at t = t(s) and
    x = alpha y (s from sigma_hat^2 if None)."""
    scaled, proc = score.scaled_denoiser, score.process
    if scaled is not None:

        def slope(s, sigma_hat2, y, out):
            return torch.sub(scaled(y, sigma_hat2), y, out=out)

        return slope

    def slope(s, sigma_hat2, y, out):
        s = -0.5 * torch.log(sigma_hat2[:, 0]) if s is None else s
        t = proc.t_of_s(s).clamp(t_min, t_max)
        return torch.sub(score.denoise(proc.alpha(t)[:, None] * y, t), y, out=out)

    return slope


class _Stages:
    """One Dormand-Prince step from s0 to s1 per row: its u-length lam = Lambda(s0, s1)
    (``lambda_rows``) and, for stage i, the s_i with Lambda(s0, s_i) = DP_C[i] lam and its
    sigma_hat^2 of shape (B, 1) (``noise``). In closed form for c = 0,
    sigma_hat^2 = sigma_hat_0^2 e^{-2 DP_C[i] h}, and for alpha = 1,
    sigma_hat^2 = sigma_hat_0^2 + (sigma_hat_0^2 + c) expm1(-2 DP_C[i] lam), all stages in
    one (6, B, 1) array and s_i None (a ``scaled_denoiser`` needs sigma_hat^2 only; ``_slope``
    computes s otherwise); else s_i by ``_stage_s``."""

    FRACS = torch.tensor(DP_C[1:6], dtype=torch.float64)[:, None, None]  # stages 2-6

    def __init__(self, proc: Process, c: float, s0, s1) -> None:
        self.proc, self.c, self.s0, self.s1 = proc, c, s0, s1
        self.sh2_0 = torch.exp(-2.0 * s0)
        self.sh2_1 = torch.exp(-2.0 * s1)
        h = s1 - s0
        if c == 0.0:
            self.lam = h
            rate = (-2.0 * h)[:, None]
            self.sh2 = (self.sh2_0[:, None] * torch.exp(self.FRACS.to(h) * rate)).unbind(0)
        elif proc.unit_alpha:  # lambda_rows' closed form, from the sigma_hat^2 above
            self.lam = 0.5 * torch.log1p(-self.sh2_0 * torch.expm1(-2.0 * h) / (self.sh2_1 + c))
            rate = (-2.0 * self.lam)[:, None]
            sh2 = torch.addcmul(
                self.sh2_0[:, None], (self.sh2_0 + c)[:, None], torch.expm1(self.FRACS.to(h) * rate)
            )
            self.sh2 = torch.maximum(sh2, self.sh2_1[:, None]).unbind(0)
        else:
            self.lam = lambda_rows(proc, c, s0, s1)
            self.sh2 = None

    def noise(self, i: int):
        """(s_i or None, sigma_hat^2 of shape (B, 1)) of stage i = 1 ... 6."""
        if DP_C[i] == 1.0:
            return self.s1, self.sh2_1[:, None]
        if self.sh2 is not None:
            return None, self.sh2[i - 1]
        s = _stage_s(self.proc, self.c, self.s0, self.s1, self.lam, DP_C[i])
        return s, torch.exp(-2.0 * s)[:, None]
