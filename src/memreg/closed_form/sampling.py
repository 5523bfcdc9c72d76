"""Reverse-time samplers for any score (x, t) -> s.

Probability-flow ODE of dx = f x dt + sqrt(g2) dw, integrated from t = T down to t_min:

    dx/dt = f(t) x - (1/2) g2(t) s(x, t).

Exponential integrator. With y = x / alpha, sigma_hat = sigma / alpha,
s = -log sigma_hat, and a score of the form s = (alpha D - x) / (sigma^2 + c),
the ODE reads

    dy/ds = -lambda(s) (y - D),      lambda = sigma_hat^2 / (sigma_hat^2 + c / alpha^2),

(lambda = 1 without regularization). Freezing D over a step of Lambda = int lambda ds
gives the first-order update  y <- D + (y - D) e^{-Lambda}  (docs/settings.md, Notation); the
second-order update (exponential Heun, ETD2RK) adds (D_1 - D_0)(1 - (1 - e^{-Lambda}) / Lambda)
with D_1 the denoiser at the predicted end point. For a score without ``c`` (a
learned one) c = 0 and D is Tweedie's D = (x + sigma^2 s) / alpha.

Default: Dormand-Prince 5(4) with a step per sample, in u = Lambda(s), the variable in
which the ODE reads dy/du = D(y, s(u)) - y (equations in ``_adaptive_rk``). Each sample
carries its own s and step; a step is accepted when its error estimate (the fifth- minus
the embedded fourth-order result) is below atol + rtol |y| in every coordinate. For the
empirical score (tau = 0) a sample leaves the integration as soon as its weights are
provably locked onto its nearest training point x_n for the rest of the path (every other
weight below e^{-K} w_n, K from the tolerance: ``_lock_margin``): then D is x_n up to those
weights, and the end is y(s_end) = x_n + (y - x_n) e^{-Lambda(s, s_end)} (``_locked``) to
within a thousandth of atol. So a sample spends its steps only while its weights move. With
``n_steps`` or ``t_grid`` the fixed grid is used instead (every sample on the same times,
exponential Heun or Euler).

Also: Heun's method on the ODE in t (a general explicit cross-check; ``heun_in_t`` with an
end per row, down to t = 0 for a score defined there, as a learned nonsingular one is), and
the reverse SDE  dx = [f x - g2 s] dt + sqrt(g2) dw  by Euler-Maruyama.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .process import Process, make_process
from .score import EmpiricalScore

Score = Callable[[torch.Tensor, Any], torch.Tensor]

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(8)
DEFAULT_STEPS = 400  # fixed grids: steps when only spacing (or method "heun") is asked for
DEFAULT_RTOL = 3e-6  # adaptive default: tolerances on y = x / alpha per coordinate
DEFAULT_ATOL = 3e-6
SMALL_WORK = 2**16  # B N d below which the samplers run on one intra-op thread
LOCK_ERROR = 1e-3  # the lock's endpoint error bound, as a fraction of atol
LOCK_NEIGHBOURS_MAX_N = 4096  # training points up to which _neighbour_sq is computed
INITIAL_STEP = 0.3  # first step in s = -log sigma_hat (fewest evaluations of 0.1-0.5, 3 processes)


@dataclass
class Trajectory:
    """Sampler output with the path: t of shape (K+1,), x of shape (K+1, n, d)."""

    t: np.ndarray
    x: np.ndarray

    @property
    def final(self) -> np.ndarray:
        return self.x[-1]


def time_grid(
    process: Process, n_steps: int, t_min: float, t_max: float | None = None, spacing: str = "s"
) -> np.ndarray:
    """Decreasing times t_0 = t_max > ... > t_K = t_min.

    spacing: "s" uniform in s = -log sigma_hat (geometric in sigma_hat),
    "t" uniform in t, "edm" the rho = 7 schedule of Karras et al. in sigma_hat.
    """
    t_max = process.T if t_max is None else t_max
    if not 0 < t_min < t_max:
        raise ValueError(f"need 0 < t_min < t_max, got t_min={t_min}, t_max={t_max}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    u = np.linspace(0.0, 1.0, n_steps + 1)
    if spacing == "t":
        t = t_max + (t_min - t_max) * u
    elif spacing == "s":
        s0, s1 = process.s_of_t(t_max), process.s_of_t(t_min)
        t = process.t_of_s(s0 + (s1 - s0) * u)
    elif spacing == "edm":
        rho = 7.0
        a, b = process.sigma_hat(t_max) ** (1 / rho), process.sigma_hat(t_min) ** (1 / rho)
        t = process.t_of_sigma_hat((a + (b - a) * u) ** rho)
    else:
        raise ValueError(f"unknown spacing {spacing!r}; allowed: 's', 't', 'edm'")
    t = np.asarray(t, dtype=np.float64)
    t[0], t[-1] = t_max, t_min
    return t


def check_grid(t_grid: Any) -> np.ndarray:
    """A user's time grid as float64, refused unless positive and strictly decreasing."""
    t = np.asarray(t_grid, dtype=np.float64)
    if t.ndim != 1 or len(t) < 2 or not np.all(t > 0) or not np.all(np.diff(t) < 0):
        raise ValueError("t_grid must be a 1-D array of >= 2 positive, strictly decreasing times")
    return t


def _process_of(score: Score, process: str | Process | None) -> Process:
    if process is not None:
        return make_process(process)
    if hasattr(score, "process"):
        return score.process
    raise ValueError("the score has no .process; pass process=...")


def denoise(score: Score, x: torch.Tensor, t: Any, process: Process) -> torch.Tensor:
    """D(x, t) = (x + (sigma^2 + c) s(x, t)) / alpha, or the score's own ``denoiser``.

    t is a float or a tensor of shape (B,) (one time per row of x)."""
    if isinstance(score, EmpiricalScore):
        return score.denoiser(x, t, check=False)
    if hasattr(score, "denoiser"):
        return score.denoiser(x, t)
    c = getattr(score, "c", 0.0)
    if isinstance(t, torch.Tensor) and t.ndim == 1:
        sigma2, alpha = process.sigma2(t)[:, None], process.alpha(t)[:, None]
        return (x + (sigma2 + c) * score(x, t)) / alpha
    return (x + (float(process.sigma2(t)) + c) * score(x, t)) / float(process.alpha(t))


def lambda_integral(process: Process, c: float, s0: float, s1: float) -> float:
    """Lambda = int_{s0}^{s1} sigma_hat^2 / (sigma_hat^2 + c / alpha^2) ds, by Gauss-Legendre."""
    if c == 0.0:
        return s1 - s0
    s = 0.5 * (s0 + s1) + 0.5 * (s1 - s0) * _GL_NODES
    sh2 = np.exp(-2.0 * s)
    lam = sh2 / (sh2 + c / process.alpha(process.t_of_s(s)) ** 2)
    return float(0.5 * (s1 - s0) * np.dot(_GL_WEIGHTS, lam))


def lambda_rows(
    process: Process, c: float, s0: torch.Tensor, s1: torch.Tensor, panels: int = 1
) -> torch.Tensor:
    """Lambda = int_{s0}^{s1} sigma_hat^2 / (sigma_hat^2 + c / alpha^2) ds per row.

    s1 - s0 for c = 0; for alpha = 1 in closed form,
    Lambda = (1/2) log((sigma_hat_0^2 + c) / (sigma_hat_1^2 + c))
           = (1/2) log1p(-e^{-2 s0} expm1(-2 (s1 - s0)) / (e^{-2 s1} + c));
    otherwise by 8-point Gauss-Legendre on ``panels`` equal panels (one for a step; many
    for a long interval, over which lambda falls from 1 to 0)."""
    h = s1 - s0
    if c == 0.0:
        return h
    if process.unit_alpha:
        return 0.5 * torch.log1p(
            -torch.exp(-2.0 * s0) * torch.expm1(-2.0 * h) / (torch.exp(-2.0 * s1) + c)
        )
    like = dict(dtype=s0.dtype, device=s0.device)
    nodes = torch.as_tensor(_GL_NODES, **like)
    weights = torch.as_tensor(_GL_WEIGHTS, **like)
    width = h / panels
    mids = s0[:, None] + width[:, None] * (torch.arange(panels, **like) + 0.5)  # (B, panels)
    s = mids[..., None] + 0.5 * width[:, None, None] * nodes  # (B, panels, 8)
    sh2 = torch.exp(-2.0 * s)
    lam = sh2 / (sh2 + c / process.alpha(process.t_of_s(s)) ** 2)
    return 0.5 * width * (lam @ weights).sum(dim=1)


def initial_noise(n: int, dim: int, seed: int, process: Process, **kw: Any) -> torch.Tensor:
    """x(T) ~ N(0, sigma(T)^2 I), drawn on the CPU from ``seed`` (device independent)."""
    gen = torch.Generator().manual_seed(int(seed))
    z = torch.randn(n, dim, generator=gen, dtype=torch.float64)
    return (float(process.sigma(process.T)) * z).to(**kw)


def check_count(n: Any) -> int:
    """n (a number of samples) as an int, refused unless a positive integer."""
    ok = isinstance(n, (int, np.integer)) and not isinstance(n, bool)
    if not (ok and n >= 1):
        raise ValueError(f"n must be a positive integer (number of samples), got {n!r}")
    return int(n)


def _start(score, n, seed, x_init, process, dim, device, dtype) -> torch.Tensor:
    dim = dim if dim is not None else getattr(score, "dim", None)
    if x_init is not None:
        x = torch.as_tensor(x_init, dtype=dtype, device=device).clone()
        rows = x.shape[0] if x.ndim == 2 else None
        if x.ndim != 2 or (dim is not None and x.shape[1] != dim) or (n is not None and n != rows):
            want = f"({'n' if n is None else check_count(n)}, {'d' if dim is None else dim})"
            raise ValueError(f"x_init must have shape {want}, got {tuple(x.shape)}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError("x_init must be finite")
        return x
    if n is None:
        raise ValueError("give n (number of samples) or x_init")
    n = check_count(n)
    if dim is None:
        raise ValueError("the score has no .dim; pass dim=...")
    return initial_noise(n, dim, seed, process, device=device, dtype=dtype)


def _default_device(score: Score, device):
    if device is not None:
        return device
    train = getattr(score, "train", None)
    return train.device if isinstance(train, torch.Tensor) else "cpu"


def _integrate(step, x: torch.Tensor, t: np.ndarray, keep_path: bool, progress: bool):
    path = [x.cpu().numpy().copy()] if keep_path else None
    steps = range(len(t) - 1)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="sampling", unit="step", leave=False)
    for k in steps:
        x = step(x, float(t[k]), float(t[k + 1]), k)
        if keep_path:
            path.append(x.cpu().numpy().copy())
    if keep_path:
        return Trajectory(t=t, x=np.stack(path))
    return x.cpu().numpy()


def sample_ode(
    score: Score,
    n: int | None = None,
    seed: int = 0,
    *,
    x_init: Any = None,
    process: str | Process | None = None,
    t_min: float = 1e-6,
    t_max: float | None = None,
    n_steps: int | None = None,
    method: str = "exponential",
    order: int = 2,
    spacing: str = "s",
    t_grid: np.ndarray | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    dim: int | None = None,
    return_trajectory: bool = False,
    progress: bool = False,
    device: Any = None,
    dtype: torch.dtype = torch.float64,
) -> np.ndarray | Trajectory:
    """Integrate the probability-flow ODE from T (or t_max) down to t_min.

    Starts from x_init, or from n draws of N(0, sigma(T)^2 I) with ``seed``.
    Default: Dormand-Prince 5(4) with per-sample step-size control and lock detection
    (tolerances rtol, atol on y = x / alpha; module docstring). With ``n_steps`` (grid
    ``spacing``) or ``t_grid``: a fixed grid, method "exponential" (in s, ``order`` 1 or 2)
    or "heun" (in t; 400 steps unless given). The score is called with one time per row
    (t of shape (B,)) by the adaptive default, with a float on a fixed grid.
    Returns the (n, d) final samples, or a Trajectory if return_trajectory (fixed grid only).
    """
    proc = _process_of(score, process)
    device = _default_device(score, device)
    adaptive = n_steps is None and t_grid is None and method == "exponential"
    if t_grid is not None:
        t = check_grid(t_grid)
    else:
        # (the adaptive default reads only the two ends)
        steps = 1 if adaptive else (DEFAULT_STEPS if n_steps is None else n_steps)
        t = time_grid(proc, steps, t_min, t_max, spacing)
    x = _start(score, n, seed, x_init, proc, dim, device, dtype)
    if adaptive:
        if return_trajectory:
            raise ValueError("return_trajectory needs a fixed grid: pass n_steps= or t_grid=")
        if order != 2:
            raise ValueError(f"order={order} applies to fixed grids: pass n_steps= or t_grid=")
        for name, tol in (("rtol", rtol), ("atol", atol)):
            if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {tol!r}")
        with _sampling_mode(score, x):
            return _adaptive_rk(score, proc, x, float(t[0]), float(t[-1]), rtol, atol)
    if method == "exponential":
        if order not in (1, 2):
            raise ValueError(f"order must be 1 or 2, got {order}")
        step = _exponential_step(score, proc, t, order)
    elif method == "heun":
        step = _heun_step(score, proc)
    else:
        raise ValueError(f"unknown method {method!r}; allowed: 'exponential', 'heun'")
    with _sampling_mode(score, x):
        return _integrate(step, x, t, return_trajectory, progress)


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


@contextmanager
def _few_threads(score: Score, x: torch.Tensor):
    """One intra-op thread on the CPU while the work per evaluation is small (B N d < 2^16
    for an EmpiricalScore): the samplers are then bound by dispatch, and waking a second
    thread per tiny op costs more than it gains (much more on a busy machine). Above it
    the (B, N) blocks split over the threads (2000 samples of 20 points in d = 2: two
    threads 15 % faster than one on an idle 2-core machine, benchmarks/README.md)."""
    train = getattr(score, "train", None)
    small = isinstance(train, torch.Tensor) and x.numel() * train.shape[0] < SMALL_WORK
    n = torch.get_num_threads()
    if not (small and x.device.type == "cpu" and n > 1):
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


@contextmanager
def _sampling_mode(score: Score, x: torch.Tensor):
    """The samplers' context: ``_few_threads``, and for an EmpiricalScore torch's inference
    mode, which skips autograd's bookkeeping in every op (6 small ops: 32 -> 17 us on this
    machine; the samplers are bound by such ops). The closed-form scores use no autograd and
    the samplers return numpy arrays; any other score runs as it is (it may use autograd)."""
    with _few_threads(score, x):
        if not isinstance(score, EmpiricalScore):
            yield
            return
        with torch.inference_mode():
            yield


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


def _lock_margin(score: Score, atol: float) -> float | None:
    """The K of the lock test, for an EmpiricalScore with tau = 0 in the "direct" form; None
    for any other score (no test: it is integrated to the end).

    Once every other weight stays below e^{-K} w_n, D = x_n + delta with
    |delta| <= (N - 1) e^{-K} R, R = 2 max_n |x_n - mean| >= max_{m,n} |x_m - x_n|, and along
    dy/du = D - y the jump's end differs from the exact one by at most
    int e^{-(U - u)} |delta| du <= (N - 1) e^{-K} R. K = log((N - 1) R / (LOCK_ERROR atol))
    makes that LOCK_ERROR atol, a thousandth of the tolerance of a single step (0 for N = 1
    or R = 0, where the test never fails or never passes)."""
    if not isinstance(score, EmpiricalScore) or score.tau != 0.0 or score.form != "direct":
        return None
    train, mean = score.train, score.train.mean(dim=0)
    rows = max(1, score.chunk_bytes // (train.shape[1] * train.element_size()))  # no (N, d) copy
    spread = 2.0 * max(float((part - mean).norm(dim=1).max()) for part in train.split(rows))
    if len(train) == 1 or spread == 0.0:
        return 0.0
    return math.log((len(train) - 1) * spread / (LOCK_ERROR * atol))


def _adaptive_rk(score, proc, x, t_max, t_min, rtol, atol) -> np.ndarray:
    """Dormand-Prince 5(4) in u = Lambda(s), where dy/du = D(y, s(u)) - y, with a step and
    an s per sample; lock detection for the empirical score (module docstring).

    The step is chosen in s (h, grown or shrunk by the PI factor 0.9 err^{-0.7/5}
    err_prev^{0.4/5} of Gustafsson, err_prev that of the row's last accepted step, clipped to
    [0.2, 10]);
    its u-length is H = Lambda(s, s + h) and stage i sits where Lambda(s, s_i) = c_i H. A
    step is accepted when err = max_k |H sum_i e_i k_i| / (atol + rtol max(|y|, |y'|)) <= 1
    in every coordinate k. Rows leave the batch when they reach t_min or lock; the lock test
    reads the two nearest training points off the last stage, which sits at the new y, once
    some row's sigma_hat is small enough to lock at all (2 K sigma_hat^2 < max_n r_n^2)."""
    c = float(getattr(score, "c", 0.0))
    like = dict(dtype=x.dtype, device=x.device)
    s_end = float(proc.s_of_t(t_min))
    alpha_end = float(proc.alpha(t_min))
    lock_k = _lock_margin(score, atol)
    if lock_k is not None:
        neighbour_sq = _neighbour_sq(score)
        reach2 = math.inf if neighbour_sq is None else float(neighbour_sq.max())
        # rows can lock only where 2 K sigma_hat^2 < max_n r_n^2, i.e. beyond s_lock
        s_lock = -0.5 * math.log(reach2 / (2.0 * lock_k)) if lock_k > 0 else -math.inf
    slope = _slope(score, proc, t_min, t_max)
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
                mean, d1_sq, d2_sq, nearest = score.scaled_denoiser_and_nearest(y_i, sigma_hat2)
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
            locked = ok & _locked(d1_sq, d2_sq, nearest, stages.sh2_1, lock_k, neighbour_sq)
            done = done | locked
        if bool(done.any()):
            ends = y[done]
            if locked is not None and bool(locked.any()):
                sh2, x_n = stages.sh2_1[locked], score.train[nearest[locked]]
                ends[locked[done]] = _jump(proc, c, y[locked], s[locked], sh2, s_end, x_n)
            out[idx[done]] = alpha_end * ends
            keep = (~done).nonzero().squeeze(1)
            idx, s, h, y, k1, err_prev = (v[keep] for v in (idx, s, h, y, k1, err_prev))
    return out.cpu().numpy()


def _slope(score: Score, proc: Process, t_min: float, t_max: float):
    """dy/du = D - y at a stage, written into ``out``, as a function of (s, sigma_hat^2, y,
    out) per row (sigma_hat^2 of shape (B, 1)): for an EmpiricalScore by ``scaled_denoiser``
    from sigma_hat^2 alone (no t needed); for any other score by ``denoise`` at t = t(s) and
    x = alpha y (s from sigma_hat^2 if None)."""
    if isinstance(score, EmpiricalScore):

        def slope(s, sigma_hat2, y, out):
            return torch.sub(score.scaled_denoiser(y, sigma_hat2), y, out=out)

        return slope

    def slope(s, sigma_hat2, y, out):
        s = -0.5 * torch.log(sigma_hat2[:, 0]) if s is None else s
        t = proc.t_of_s(s).clamp(t_min, t_max)
        return torch.sub(denoise(score, proc.alpha(t)[:, None] * y, t, proc), y, out=out)

    return slope


class _Stages:
    """One Dormand-Prince step from s0 to s1 per row: its u-length lam = Lambda(s0, s1)
    (``lambda_rows``) and, for stage i, the s_i with Lambda(s0, s_i) = DP_C[i] lam and its
    sigma_hat^2 of shape (B, 1) (``noise``). In closed form for c = 0,
    sigma_hat^2 = sigma_hat_0^2 e^{-2 DP_C[i] h}, and for alpha = 1,
    sigma_hat^2 = sigma_hat_0^2 + (sigma_hat_0^2 + c) expm1(-2 DP_C[i] lam), all stages in
    one (6, B, 1) array and s_i None (the empirical score needs sigma_hat^2 only; ``_slope``
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


def _locked(d1_sq, d2_sq, nearest, sigma_hat2, k, neighbour_sq):
    """Rows whose weights stay on their nearest training point x_n down to t_min.

    With d_1 <= d_2 the distances from y to its two nearest training points, while D = x_n
    y moves on the segment towards x_n, along which the logit gap
    |y - x_m|^2 - |y - x_n|^2 of any other x_m is affine in y, hence at least
    min(d_m^2 - d_1^2, |x_m - x_n|^2) >= min(d_2^2 - d_1^2, r_n^2), r_n the distance from x_n
    to its nearest other training point (``_neighbour_sq``); and sigma_hat only decreases.
    So every other weight stays below e^{-K} of w_n for the rest of the path if that bound
    exceeds 2 K sigma_hat^2. Without r_n (large N) the bound is (d_2 - d_1)^2, since
    |x_m - x_n| >= d_m - d_1 >= d_2 - d_1 (triangle inequality)."""
    if neighbour_sq is None:
        gap = (d2_sq.sqrt() - d1_sq.sqrt()) ** 2
    else:
        gap = torch.minimum(d2_sq - d1_sq, neighbour_sq[nearest])
    return gap > 2.0 * k * sigma_hat2


def _neighbour_sq(score: EmpiricalScore) -> torch.Tensor | None:
    """r_n^2, the squared distance from each training point to its nearest other one (inf
    for N = 1), for the lock test; computed for N <= LOCK_NEIGHBOURS_MAX_N (O(N^2 d) work), None
    above."""
    if score.train.shape[0] > LOCK_NEIGHBOURS_MAX_N:
        return None
    return score.nearest_two(score.train)[1] ** 2


def _jump(proc: Process, c: float, y, s, sigma_hat2, s_end: float, x_n):
    """The exact end y(s_end) = x_n + (y - x_n) e^{-Lambda(s, s_end)} of rows locked on x_n
    (D = x_n constant from s on), rows at s with sigma_hat(s)^2 = sigma_hat2. For c = 0 or
    alpha = 1, e^{-Lambda} = ((sigma_hat_end^2 + c) / (sigma_hat^2 + c))^{1/2} (``lambda_rows``'
    closed form); otherwise by quadrature."""
    if c == 0.0 or proc.unit_alpha:
        decay = torch.sqrt((math.exp(-2.0 * s_end) + c) / (sigma_hat2 + c))
    else:
        decay = torch.exp(-lambda_rows(proc, c, s, torch.full_like(s, s_end), panels=64))
    return torch.lerp(x_n, y, decay[:, None])


def _exponential_step(score: Score, proc: Process, t: np.ndarray, order: int):
    c = float(getattr(score, "c", 0.0))
    s = proc.s_of_t(t)
    alpha = proc.alpha(t)

    def step(x, t0, t1, k):
        y = x / float(alpha[k])
        lam = lambda_integral(proc, c, float(s[k]), float(s[k + 1]))
        decay = float(np.exp(-lam))
        d0 = denoise(score, x, t0, proc)
        y1 = d0 + (y - d0) * decay
        if order == 2:
            d1 = denoise(score, float(alpha[k + 1]) * y1, t1, proc)
            y1 = y1 + (d1 - d0) * float(1.0 + np.expm1(-lam) / lam)
        return float(alpha[k + 1]) * y1

    return step


def ode_velocity(score: Score, proc: Process, x: torch.Tensor, t: float) -> torch.Tensor:
    """dx/dt = f(t) x - (1/2) g2(t) s(x, t)."""
    return float(proc.f(t)) * x - 0.5 * float(proc.g2(t)) * score(x, t)


def velocity_rows(score: Score, proc: Process, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """dx/dt = f(t) x - (1/2) g2(t) s(x, t) with one time per row (t of shape (B,))."""
    return proc.f(t)[:, None] * x - 0.5 * proc.g2(t)[:, None] * score(x, t)


def heun_in_t(
    score: Score,
    x: Any,
    t_start: float,
    t_end: Any,
    n_steps: int,
    process: str | Process | None = None,
) -> np.ndarray:
    """Heun's method (the explicit trapezoidal rule) on the probability-flow ODE in t,
    each row from t_start to its own end t_end[row] in [0, t_start], on n_steps equal steps
    h = (t_end - t_start) / n_steps (negative: backwards in time), v = ``velocity_rows``:

        x' = x_k + h v(x_k, t_k),   x_{k+1} = x_k + (h / 2) (v(x_k, t_k) + v(x', t_{k+1})).

    Second order in h. The score is called with one time per row and may be called at t = 0
    (for scores defined there, such as a learned nonsingular one); a row whose end is t_start
    stays where it is, its score called at t_start only. x: (B, d); t_end: a float or (B,).
    Returns the (B, d) ends as float64."""
    proc = _process_of(score, process)
    x = torch.as_tensor(x, dtype=torch.float64).clone()
    end = torch.as_tensor(t_end, dtype=torch.float64).expand(x.shape[0])
    if not bool(((end >= 0) & (end <= t_start)).all()):
        raise ValueError(f"every end must lie in [0, t_start = {t_start}]")
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    h = (end - t_start) / n_steps
    with _sampling_mode(score, x):
        for k in range(n_steps):
            t0 = t_start + k * h
            t1 = end if k == n_steps - 1 else t_start + (k + 1) * h
            v0 = velocity_rows(score, proc, x, t0)
            v1 = velocity_rows(score, proc, x + h[:, None] * v0, t1)
            x = x + 0.5 * h[:, None] * (v0 + v1)
    return x.cpu().numpy()


def _heun_step(score: Score, proc: Process):
    def step(x, t0, t1, k):
        h = t1 - t0
        v0 = ode_velocity(score, proc, x, t0)
        x_pred = x + h * v0
        return x + 0.5 * h * (v0 + ode_velocity(score, proc, x_pred, t1))

    return step


def sample_sde(
    score: Score,
    n: int | None = None,
    seed: int = 0,
    *,
    x_init: Any = None,
    process: str | Process | None = None,
    t_min: float = 1e-6,
    t_max: float | None = None,
    n_steps: int = 1000,
    spacing: str = "s",
    dim: int | None = None,
    return_trajectory: bool = False,
    progress: bool = False,
    device: Any = None,
    dtype: torch.dtype = torch.float64,
) -> np.ndarray | Trajectory:
    """Euler-Maruyama for the reverse SDE dx = [f x - g2 s] dt + sqrt(g2) dw, from T to t_min.

    The initial draw uses ``seed`` and the Brownian increments ``seed + 1``.
    """
    proc = _process_of(score, process)
    device = _default_device(score, device)
    t = time_grid(proc, n_steps, t_min, t_max, spacing)
    x = _start(score, n, seed, x_init, proc, dim, device, dtype)
    gen = torch.Generator().manual_seed(int(seed) + 1)

    def step(x, t0, t1, k):
        h = t0 - t1
        drift = float(proc.f(t0)) * x - float(proc.g2(t0)) * score(x, t0)
        z = torch.randn(x.shape, generator=gen, dtype=torch.float64).to(x)
        return x - h * drift + float(np.sqrt(proc.g2(t0) * h)) * z

    with _sampling_mode(score, x):
        return _integrate(step, x, t, return_trajectory, progress)


def weights_along(score: Any, trajectory: Trajectory, index: int) -> np.ndarray:
    """Weights w_n(x(t_k), t_k) of trajectory ``index`` at every grid time: shape (K+1, N)."""
    x = torch.as_tensor(trajectory.x[:, index, :])
    return np.concatenate(
        [score.weights(x[k : k + 1], float(tk)).cpu().numpy() for k, tk in enumerate(trajectory.t)]
    )
