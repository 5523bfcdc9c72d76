"""The lock of the adaptive sampler: when a sample's weights have settled on one point.

For a score whose denoiser is the softmax mean of its points x_n (``lockable``, module
memreg.closed_form.sampler_score: the empirical score, tau = 0), a sample leaves the
integration as soon as every other weight is provably below e^{-K} w_n of its nearest
point x_n for the rest of the path; its end is then y(s_end) = x_n + (y - x_n) e^{-Lambda}
(``jump``), to within LOCK_ERROR atol.
"""

from __future__ import annotations

import math

import torch

from .exponential import lambda_rows
from .process import Process
from .sampler_score import SamplerScore

LOCK_ERROR = 1e-3  # the lock's endpoint error bound, as a fraction of atol
LOCK_NEIGHBOURS_MAX_N = 4096  # training points up to which neighbour_sq is computed
SPREAD_ROWS = 2**16  # rows per block of the spread's pass over the points (no (N, d) copy)


def lock_margin(score: SamplerScore, atol: float) -> float | None:
    """The K of the lock test for a lockable score; None for any other (no test: it is
    integrated to the end).

    Once every other weight stays below e^{-K} w_n, D = x_n + delta with
    |delta| <= (N - 1) e^{-K} R, R = 2 max_n |x_n - mean| >= max_{m,n} |x_m - x_n|, and along
    dy/du = D - y the jump's end differs from the exact one by at most
    int e^{-(U - u)} |delta| du <= (N - 1) e^{-K} R. K = log((N - 1) R / (LOCK_ERROR atol))
    makes that LOCK_ERROR atol, a thousandth of the tolerance of a single step (0 for N = 1
    or R = 0, where the test never fails or never passes)."""
    if not score.lockable:
        return None
    train, mean = score.train, score.train.mean(dim=0)
    spread = 2.0 * max(float((part - mean).norm(dim=1).max()) for part in train.split(SPREAD_ROWS))
    if len(train) == 1 or spread == 0.0:
        return 0.0
    return math.log((len(train) - 1) * spread / (LOCK_ERROR * atol))


def locked(d1_sq, d2_sq, nearest, sigma_hat2, k, neighbour_sq):
    """Rows whose weights stay on their nearest training point x_n down to t_min.

    With d_1 <= d_2 the distances from y to its two nearest training points, while D = x_n
    y moves on the segment towards x_n, along which the logit gap
    |y - x_m|^2 - |y - x_n|^2 of any other x_m is affine in y, hence at least
    min(d_m^2 - d_1^2, |x_m - x_n|^2) >= min(d_2^2 - d_1^2, r_n^2), r_n the distance from x_n
    to its nearest other training point (``neighbour_sq``); and sigma_hat only decreases.
    So every other weight stays below e^{-K} of w_n for the rest of the path if that bound
    exceeds 2 K sigma_hat^2. Without r_n (large N) the bound is (d_2 - d_1)^2, since
    |x_m - x_n| >= d_m - d_1 >= d_2 - d_1 (triangle inequality)."""
    if neighbour_sq is None:
        gap = (d2_sq.sqrt() - d1_sq.sqrt()) ** 2
    else:
        gap = torch.minimum(d2_sq - d1_sq, neighbour_sq[nearest])
    return gap > 2.0 * k * sigma_hat2


def neighbour_sq(score: SamplerScore) -> torch.Tensor | None:
    """r_n^2, the squared distance from each training point to its nearest other one (inf
    for N = 1), for the lock test; computed for N <= LOCK_NEIGHBOURS_MAX_N (O(N^2 d) work),
    None above."""
    if score.train.shape[0] > LOCK_NEIGHBOURS_MAX_N:
        return None
    return score.score.nearest_two(score.train)[1] ** 2


def jump(proc: Process, c: float, y, s, sigma_hat2, s_end: float, x_n):
    """The exact end y(s_end) = x_n + (y - x_n) e^{-Lambda(s, s_end)} of rows locked on x_n
    (D = x_n constant from s on), rows at s with sigma_hat(s)^2 = sigma_hat2. For c = 0 or
    alpha = 1, e^{-Lambda} = ((sigma_hat_end^2 + c) / (sigma_hat^2 + c))^{1/2} (``lambda_rows``'
    closed form); otherwise by quadrature."""
    if c == 0.0 or proc.unit_alpha:
        decay = torch.sqrt((math.exp(-2.0 * s_end) + c) / (sigma_hat2 + c))
    else:
        decay = torch.exp(-lambda_rows(proc, c, s, torch.full_like(s, s_end), panels=64))
    return torch.lerp(x_n, y, decay[:, None])
