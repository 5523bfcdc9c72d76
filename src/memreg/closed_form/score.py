"""Closed-form scores of the empirical data law p_0 = (1/N) sum_n delta(x_n).

For a process x_t = alpha x_0 + sigma eps (see ``memreg.closed_form.process``) the empirical
optimal score and its Tikhonov-regularized version are

    s_c(x, t) = (alpha D(x, t) - x) / (sigma^2 + c),      c >= 0,
    D(x, t)   = sum_n w_n x_n,
    w_n       = softmax_n( -|x - alpha x_n|^2 / (2 sigma^2) ).

c = 0 is the minimiser of denoising score matching; c > 0 adds the penalty
gamma^2 E|s|^2 with gamma^2 sigma^2 = c (docs/settings.md, Notation), which keeps s bounded as
t -> 0: s_c -> (x_n - x) / c. The asymptotic-consistency score (threshold tau)
multiplies s_0 by W = sum_n phi_n / max(sum_n phi_n, tau) <= 1 (see EmpiricalScore).
``make_score`` builds either from a config entry {kind, c | tau}.

Any score used by the samplers is a callable ``(x, t) -> score`` on batches
(x of shape (B, d), t a float or a tensor of shape (B,)), optionally with
``process``, ``c`` and ``denoiser``: the samplers read the Tweedie denoiser
D = (x + (sigma^2 + c) s) / alpha from it.

Numerics: float64, log-sum-exp weights, and two forms of the squared distances:

* "direct": |x - alpha x_n|^2 from the differences themselves, by chunks of training
  points (memory O(B * chunk * d)); exact to rounding at every sigma.
* "expansion": the logits up to a per-row constant, L'_n = (2 alpha x.x_n - alpha^2 |x_n|^2)
  / (2 sigma^2), from one matrix product per chunk (BLAS speed; memory O(B * chunk)).
  Its rounding error is at most E = gamma (2 alpha |x| max|x_n| + alpha^2 max|x_n|^2) /
  (2 sigma^2), gamma = (d + 4) eps (Higham's bound for dot products, with a factor 2 to
  spare). Where E <= 4e-11 the logits are used as they are: each weight is then within a
  factor e^{+-2E} of its exact value, so |D - D_exact| <= (e^{2E} - 1) max|x_n| <= 8e-11 max|x_n|.
  Elsewhere (small sigma, large data) only the logits within 2E + K of the row maximum,
  K = 40 + log N, can carry weight (any other has a true weight below e^{-K} of the
  largest); those few are recomputed from direct differences and the rest are dropped.
  "auto" (the default) takes "expansion" for d >= 16 and "direct" below.

The weighted sum over training points is an online log-sum-exp over chunks, so the
score and the denoiser need memory independent of N beyond the data itself.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch

from ..errors import SettingError
from .process import Process, make_process

# Bytes of one (B, chunk, d) difference tensor ("direct") or of one (B, chunk) logit block
# ("expansion"); a few MiB avoid page faults of large temporaries.
DEFAULT_CHUNK_BYTES = 4 * 2**20
FORMS = ("auto", "direct", "expansion")
EXPANSION_MIN_DIM = 16  # "auto": direct differences below this dimension
SMALL_DIM = 4  # "direct": distances coordinate by coordinate up to this dimension
LOGIT_TOL = 4e-11  # largest rounding error of an expansion logit used without recomputation
T_SLACK = 1e-12  # relative slack on t <= T, for t(s(T)) rounded up by one ulp


def check_constant(name: str, value: Any) -> float:
    """A regularization constant (c, tau) as a float, refused unless a finite real >= 0."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not (ok and math.isfinite(value) and value >= 0):
        raise SettingError(name, value, "a finite real number >= 0")
    return float(value)


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
    tau > 0: the asymptotic-consistency ("empirical Bayes") score (docs/settings.md),
    w_n = phi_n / max(sum_k phi_k, tau),  s = (alpha sum_n w_n x_n - (sum_n w_n) x) / sigma^2;
    W is computed in log space, log W = LSE_n log phi_n - max(LSE_n log phi_n, log tau).

    ``score(x, t)`` returns s; ``score.denoiser(x, t)`` the matching Tweedie denoiser
    (x + (sigma^2 + c) s) / alpha = x/alpha + W (D - x/alpha); ``score.weights(x, t)``
    the (B, N) softmax weights phi_n / sum_k phi_k. t is a float or a tensor of shape
    (B,) in (0, T]. ``form`` picks how distances are computed (module docstring).
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
        form: str = "auto",
    ) -> None:
        self.c = check_constant("Tikhonov constant c", c)
        self.tau = check_constant("consistency threshold tau", tau)
        if form not in FORMS:
            raise SettingError("form", form, f"one of {list(FORMS)}")
        try:
            train = torch.as_tensor(train, dtype=dtype, device=device)
        except (TypeError, ValueError) as err:
            raise ValueError(f"train must be an (N, d) array of numbers: {err}") from None
        if train.ndim != 2 or train.shape[0] == 0:
            raise ValueError(f"train must have shape (N, d) with N >= 1, got {tuple(train.shape)}")
        if not math.isfinite(float(train.sum())):  # one pass, no (N, d) temporary
            bad = int((~torch.isfinite(train)).any(dim=1).sum())
            if bad:  # (a finite sum may also overflow)
                raise ValueError(f"train must be finite; {bad} of its {len(train)} rows are not")
        self.train = train
        self.process = make_process(process)
        self.chunk_bytes = int(chunk_bytes)
        if form == "auto":
            form = "expansion" if train.shape[1] >= EXPANSION_MIN_DIM else "direct"
        self.form = form
        self._norms = None
        small = train.shape[1] <= SMALL_DIM  # the x_n by coordinate, for _logits
        self._columns = [c.contiguous() for c in train.unbind(1)] if small else None

    inference_safe = True  # no autograd (memreg.closed_form.sampler_score)

    @property
    def dim(self) -> int:
        return self.train.shape[1]

    @property
    def lockable(self) -> bool:
        """Whether the denoiser is the softmax mean of ``train`` whose two nearest points
        ``scaled_denoiser_and_nearest`` reads off its logits (tau = 0, the direct form), so
        that the adaptive sampler's lock applies (memreg.closed_form.lock)."""
        return self.tau == 0.0 and self.form == "direct"

    def _prepare(self, x: Any, t: Any, check: bool = True):
        x = torch.as_tensor(x, dtype=self.train.dtype, device=self.train.device)
        if not check:  # the samplers' own calls: shapes and times are theirs
            tt = as_time(t, x)
            return x, self.process.alpha(tt), self.process.sigma2(tt)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (B, {self.dim}), got {tuple(x.shape)}")
        tt = as_time(t, x)
        if tt.numel() != 1 and tt.shape != (x.shape[0], 1):
            raise ValueError(
                f"t must be a float or of shape ({x.shape[0]},), got {tuple(tt.shape)}"
            )
        lo, hi = torch.aminmax(tt) if tt.numel() > 1 else (tt, tt)
        lo, hi, T = float(lo), float(hi), self.process.T
        if not (lo > 0 and hi <= T * (1 + T_SLACK)):
            raise ValueError(f"t must lie in (0, T] = (0, {T:g}], got values in [{lo:g}, {hi:g}]")
        return x, self.process.alpha(tt), self.process.sigma2(tt)

    def _logits(self, x, alpha, sigma2, train):
        """log phi_n = -|x - alpha x_n|^2 / (2 sigma^2) for the rows of x and of ``train``,
        from the differences (coordinate by coordinate in low dimension, where a (B, N, d)
        tensor reduced over a short last axis is the slower way). alpha None: alpha = 1."""
        if alpha is not None and not self.process.unit_alpha:
            train = alpha[..., None] * train[None] if alpha.ndim else alpha * train
        if x.shape[1] <= SMALL_DIM:
            columns = self._columns if train is self.train else train.unbind(-1)
            sq = None
            for k, col in enumerate(columns):
                dk = x[:, k : k + 1] - col
                sq = dk.mul_(dk) if sq is None else sq.add_(dk.mul_(dk))  # no FMA: as numpy
        else:
            diff = x[:, None, :] - (train if train.ndim == 3 else train[None])
            sq = (diff * diff).sum(-1)
        return sq.div_(-2.0 * sigma2)

    def weights(self, x: Any, t: Any) -> torch.Tensor:
        """The (B, N) weights phi_n / sum_k phi_k, summing to 1 per row.

        A diagnostic for small N: unlike the score and the denoiser it is not chunked,
        so it holds a (B, N, d) array."""
        x, alpha, sigma2 = self._prepare(x, t)
        return torch.softmax(self._logits(x, alpha, sigma2, self.train), dim=1)

    def _direct_chunk(self, x: torch.Tensor) -> int:
        """Training points per chunk of the "direct" form: one (B, chunk, d) block within
        chunk_bytes."""
        B, d = x.shape
        return max(1, self.chunk_bytes // (max(B, 1) * d * x.element_size()))

    def _posterior(self, x, alpha, sigma2):
        """(D, log sum_n phi_n), D = sum_n phi_n x_n / sum_n phi_n, in the score's form
        (log sum_n phi_n may be None when tau = 0, where nothing reads it)."""
        if self.form == "expansion":
            return self._posterior_expansion(x, alpha, sigma2)
        B, d = x.shape
        chunk = self._direct_chunk(x)
        if chunk >= self.train.shape[0]:  # one chunk: a plain softmax
            logits = self._logits(x, alpha, sigma2, self.train)
            w = torch.softmax(logits, dim=1)
            if self.tau == 0.0:  # log sum phi is not needed
                return w @ self.train, None
            # the largest weight is 1 / sum_n e^{L_n - max L}: log sum phi = max L - log max w
            m = logits.amax(dim=1, keepdim=True)
            return w @ self.train, m - torch.log(w.amax(dim=1, keepdim=True))
        m = torch.full((B, 1), -torch.inf, dtype=x.dtype, device=x.device)
        norm = torch.zeros((B, 1), dtype=x.dtype, device=x.device)
        acc = torch.zeros((B, d), dtype=x.dtype, device=x.device)
        for start in range(0, self.train.shape[0], chunk):
            part = self.train[start : start + chunk]
            logits = self._logits(x, alpha, sigma2, part)
            m, norm, acc = _online_update(m, norm, acc, logits, part)
        return acc / norm, m + torch.log(norm)

    def _posterior_expansion(self, x, alpha, sigma2):
        """The "expansion" form: L'_n = (2 alpha x.x_n - alpha^2 |x_n|^2) / (2 sigma^2) by
        matrix products; in rows whose rounding bound E exceeds LOGIT_TOL, the logits with
        L'_n >= max L' - 2E - K are recomputed from direct differences, the others dropped."""
        B, d = x.shape
        N = self.train.shape[0]
        if self._norms is None:
            # |x_n|^2 by chunks of rows, as dot products: (p * p).sum(1) made a (rows, d)
            # temporary per chunk, which once left the heap 1.1 GB larger (N = 50,000, d = 3,072);
            # a normal tensor even when first called in the samplers' inference mode
            rows = max(1, self.chunk_bytes // (d * x.element_size()))
            with torch.inference_mode(False):
                parts = torch.split(self.train, rows)
                self._norms = torch.cat([torch.einsum("nd,nd->n", p, p) for p in parts])
        sq_train = self._norms
        rmax = float(sq_train.max()) ** 0.5
        alpha = torch.broadcast_to(x.new_ones(()) if alpha is None else alpha, (B, 1))
        two_s2 = 2.0 * torch.broadcast_to(sigma2, (B, 1))
        sq_x = (x * x).sum(dim=1, keepdim=True)
        eps = torch.finfo(x.dtype).eps
        bound = (d + 4) * eps * (2.0 * alpha * sq_x.sqrt() * rmax + alpha**2 * rmax**2) / two_s2
        if self.tau > 0:  # log sum phi = LSE L' - |x|^2 / (2 sigma^2) must be exact too
            bound = bound + 4 * eps * sq_x / two_s2
        exact = bound > LOGIT_TOL  # (B, 1)
        margin = 2.0 * bound + 40.0 + math.log(N)
        chunk = max(1, self.chunk_bytes // (max(B, 1) * x.element_size()))
        pair_chunk = max(1, self.chunk_bytes // (d * x.element_size()))
        m_expanded = torch.full((B, 1), -torch.inf, dtype=x.dtype, device=x.device)
        m = m_expanded.clone()
        norm = torch.zeros((B, 1), dtype=x.dtype, device=x.device)
        acc = torch.zeros((B, d), dtype=x.dtype, device=x.device)
        any_exact = bool(exact.any())
        for start in range(0, N, chunk):
            part = self.train[start : start + chunk]
            logits = 2.0 * alpha * (x @ part.T) - alpha**2 * sq_train[start : start + chunk]
            logits = logits / two_s2
            if any_exact:
                m_expanded = torch.maximum(m_expanded, logits.max(dim=1, keepdim=True).values)
                keep = exact & (logits >= m_expanded - margin)
                logits = torch.where(exact, -torch.inf, logits)
                rows, cols = keep.nonzero(as_tuple=True)
                for k in range(0, rows.numel(), pair_chunk):
                    b, n = rows[k : k + pair_chunk], cols[k : k + pair_chunk]
                    diff = x[b] - alpha[b] * part[n]
                    logits[b, n] = -(diff * diff).sum(dim=1) / two_s2[b, 0]
            m, norm, acc = _online_update(m, norm, acc, logits, part, sparse=True)
        log_total = m + torch.log(norm) - torch.where(exact, 0.0, sq_x / two_s2)
        return acc / norm, log_total

    def nearest_two(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(d_1, d_2, n): the distances |y - x_n| from each row of y to its nearest and
        second-nearest training points (d_2 = inf when N = 1) and the index n of the
        nearest, from direct differences by chunks of training points."""
        B, d = y.shape
        one = torch.ones((), dtype=y.dtype, device=y.device)
        chunk = max(2, self.chunk_bytes // (max(B, 1) * d * y.element_size()))
        best = torch.full((B, 2), -torch.inf, dtype=y.dtype, device=y.device)
        where = torch.zeros((B, 2), dtype=torch.long, device=y.device)
        for start in range(0, self.train.shape[0], chunk):
            neg_sq = self._logits(y, one, 0.5 * one, self.train[start : start + chunk])
            vals, cols = _two_largest(neg_sq)  # -|y - x|^2 of the two nearest
            if start == 0 and vals.shape[1] == 2:
                best, where = vals, cols
                continue
            vals, cols = torch.cat([best, vals], dim=1), torch.cat([where, cols + start], dim=1)
            best, order = _two_largest(vals)
            where = cols.gather(1, order)
        return (-best[:, 0]).sqrt(), (-best[:, 1]).sqrt(), where[:, 0]

    def _mass(self, log_total: torch.Tensor | None) -> torch.Tensor | float:
        """W = sum phi / max(sum phi, tau), from log sum phi (1 when tau = 0)."""
        if self.tau == 0.0:
            return 1.0
        log_tau = torch.full_like(log_total, math.log(self.tau))
        return torch.exp(log_total - torch.maximum(log_total, log_tau))

    def posterior_mean(self, x: Any, t: Any) -> torch.Tensor:
        """D(x, t) = sum_n phi_n x_n / sum_n phi_n, the empirical denoiser."""
        return self._posterior(*self._prepare(x, t))[0]

    def denoiser(self, x: Any, t: Any, *, check: bool = True) -> torch.Tensor:
        """Tweedie's denoiser of this score: (x + (sigma^2 + c) s) / alpha.

        check=False skips the validation of x and t (for the samplers' own calls)."""
        x, alpha, sigma2 = self._prepare(x, t, check)
        mean, log_total = self._posterior(x, alpha, sigma2)
        if self.tau == 0.0:
            return mean
        return x / alpha + self._mass(log_total) * (mean - x / alpha)

    def scaled_denoiser(self, y: torch.Tensor, sigma_hat2: torch.Tensor) -> torch.Tensor:
        """The denoiser in the scaled variable y = x / alpha at noise sigma_hat^2 per row
        (shape (B, 1)): y + W (D - y) with the weights softmax_n(-|y - x_n|^2 / (2 sigma_hat^2)),
        since |x - alpha x_n|^2 / sigma^2 = |y - x_n|^2 / sigma_hat^2. It equals
        ``denoiser(alpha y, t)`` at sigma_hat(t) = sigma_hat for every process, without
        computing t; the samplers' own call, so nothing is checked."""
        mean, log_total = self._posterior(y, None, sigma_hat2)
        if self.tau == 0.0:
            return mean
        return y + self._mass(log_total) * (mean - y)

    def scaled_denoiser_and_nearest(
        self, y: torch.Tensor, sigma_hat2: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(``scaled_denoiser(y, sigma_hat2)``, d_1^2, d_2^2, n): also the squared distances
        from y to its nearest and second-nearest training points and the index n of the
        nearest (as ``nearest_two``), for the samplers' lock test. Where the logits
        L_n = -|y - x_n|^2 / (2 sigma_hat^2) come in one block (tau = 0, form "direct", one
        chunk) the two are read off the two largest, d^2 = -2 sigma_hat^2 L (within two
        rounding errors of |y - x_n|^2); otherwise by ``nearest_two``."""
        if self.tau == 0.0 and self.form == "direct" and self._direct_chunk(y) >= len(self.train):
            logits = self._logits(y, None, sigma_hat2, self.train)
            mean = torch.softmax(logits, dim=1) @ self.train
            top, cols = _two_largest(logits)
            sq = top * (-2.0 * sigma_hat2)
            second = sq[:, 1] if sq.shape[1] == 2 else torch.full_like(sq[:, 0], torch.inf)
            return mean, sq[:, 0], second, cols[:, 0]
        first, second, nearest = self.nearest_two(y)
        return self.scaled_denoiser(y, sigma_hat2), first**2, second**2, nearest

    def __call__(self, x: Any, t: Any) -> torch.Tensor:
        x, alpha, sigma2 = self._prepare(x, t)
        mean, log_total = self._posterior(x, alpha, sigma2)
        return self._mass(log_total) * (alpha * mean - x) / (sigma2 + self.c)


def _two_largest(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two largest entries of each row and their columns, descending (one if the row
    has one); two row maxima, cheaper than topk on short rows."""
    first, i = v.max(dim=1, keepdim=True)
    if v.shape[1] == 1:
        return first, i
    second, j = v.scatter(1, i, -torch.inf).max(dim=1, keepdim=True)
    return torch.cat([first, second], dim=1), torch.cat([i, j], dim=1)


def _online_update(m, norm, acc, logits, part, sparse=False):
    """One chunk of the online log-sum-exp: running max m, sum of e^{L - m}, and the
    weighted sum acc of the training points, all rescaled to the new maximum. sparse: where
    at most 1/8 of the chunk's points have a non-zero weight in some row (small sigma), the
    weighted sum runs over those columns only (the others add exact zeros)."""
    m_new = torch.maximum(m, logits.max(dim=1, keepdim=True).values)
    m_safe = torch.where(torch.isfinite(m_new), m_new, 0.0)  # rows without logits yet
    rescale = torch.exp(m - m_safe)
    p = torch.exp(logits - m_safe)
    if sparse:
        cols = (p != 0).any(dim=0).nonzero().squeeze(1)
        if cols.numel() <= part.shape[0] // 8:
            return (
                m_new,
                norm * rescale + p.sum(dim=1, keepdim=True),
                acc * rescale + p[:, cols] @ part[cols],
            )
    return m_new, norm * rescale + p.sum(dim=1, keepdim=True), acc * rescale + p @ part


# The closed-form score kinds and their parameters: the one map of kind -> parameter names
# (the regularization sweeps read theirs from it: regularization.SWEEP_PARAMS).
SCORE_KINDS = {"empirical": (), "tikhonov": ("c",), "consistency": ("tau",)}


def make_score(
    train: Any, kind: str = "empirical", process: str | Process = "ve_talk", **params: Any
) -> EmpiricalScore:
    """A closed-form score named by kind and parameters, as config writes it:
    ``{kind: empirical}``, ``{kind: tikhonov, c: 1e-3}``, ``{kind: consistency, tau: 0.1}``."""
    if kind not in SCORE_KINDS:
        raise SettingError("kind", kind, f"one of {sorted(SCORE_KINDS)}")
    allowed = SCORE_KINDS[kind]
    extra = sorted(set(params) - set(allowed))
    missing = sorted(set(allowed) - set(params))
    if extra or missing:
        raise ValueError(
            f"score kind {kind!r} takes parameters {list(allowed)}; "
            f"got unexpected {extra} / missing {missing}"
        )
    return EmpiricalScore(train, process=process, **params)


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
