"""Forward noising processes  x_t = alpha(t) x_0 + sigma(t) eps,  eps ~ N(0, I).

Each process is the linear SDE  dx = f(t) x dt + sqrt(g2(t)) dw  on [0, T], with

    f = alpha' / alpha,        (sigma^2)' = 2 f sigma^2 + g2.

``g2`` is the *squared* diffusion coefficient (the paper's g). The samplers work
with the scaled variable  y = x / alpha,  whose noise level is

    sigma_hat(t) = sigma(t) / alpha(t),

and with the log-noise time  s = -log sigma_hat  (for the VE processes alpha = 1,
so s = -log sigma, and for ``ve_talk`` s = -log t). In s the probability-flow ODE
of the empirical score is  dy/ds = -(y - D(y)),  D the empirical denoiser.

Every method accepts a float, a numpy array or a torch tensor and answers in kind.
Small-t formulas use expm1/log1p so that sigma^2(t) keeps full relative
precision down to t = 1e-300.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import SettingError


def _xp(t: Any):
    """The array namespace (torch or numpy) of ``t``."""
    return torch if isinstance(t, torch.Tensor) else np


def _as_array(t: Any):
    return t if isinstance(t, torch.Tensor) else np.asarray(t, dtype=np.float64)


class Process(ABC):
    """A forward process, described by alpha(t), sigma^2(t), f(t) and g2(t)."""

    name: str
    T: float = 1.0
    unit_alpha = False  # alpha(t) = 1 for all t (the VE processes)

    @abstractmethod
    def alpha(self, t):
        """Mean factor alpha(t) = exp(int_0^t f)."""

    @abstractmethod
    def sigma2(self, t):
        """Noise variance sigma^2(t) of x_t given x_0."""

    @abstractmethod
    def f(self, t):
        """Drift coefficient f(t) = alpha'(t) / alpha(t)."""

    @abstractmethod
    def g2(self, t):
        """Squared diffusion coefficient g2(t) = (sigma^2)' - 2 f sigma^2."""

    @abstractmethod
    def t_of_sigma_hat(self, sigma_hat):
        """Inverse of sigma_hat(t) = sigma(t) / alpha(t)."""

    def sigma(self, t):
        return _xp(t).sqrt(self.sigma2(_as_array(t)))

    def sigma_hat(self, t):
        """Noise level of the scaled variable x / alpha."""
        t = _as_array(t)
        return self.sigma(t) / self.alpha(t)

    def s_of_t(self, t):
        """Log-noise time s = -log sigma_hat(t)."""
        return -_xp(t).log(self.sigma_hat(t))

    def t_of_s(self, s):
        """Inverse of s_of_t."""
        s = _as_array(s)
        return self.t_of_sigma_hat(_xp(s).exp(-s))


@dataclass(frozen=True)
class VETalk(Process):
    """The talk's process: g2(t) = 2t, sigma^2(t) = t^2, alpha = 1, T = 1."""

    name: str = "ve_talk"
    T: float = 1.0
    unit_alpha = True

    def alpha(self, t):
        return _xp(t).ones_like(_as_array(t))

    def sigma2(self, t):
        t = _as_array(t)
        return t * t

    def f(self, t):
        return _xp(t).zeros_like(_as_array(t))

    def g2(self, t):
        return 2.0 * _as_array(t)

    def t_of_sigma_hat(self, sigma_hat):
        return _as_array(sigma_hat) * 1.0


@dataclass(frozen=True)
class VE(Process):
    """The authors' VE process: g2(t) = base^{2t}, sigma^2 = (base^{2t} - 1) / (2 ln base).

    With base = 10 and T = 1, sigma(T) ~ 4.64.
    """

    name: str = "ve"
    T: float = 1.0
    base: float = 10.0
    unit_alpha = True

    @property
    def _lnb(self) -> float:
        return math.log(self.base)

    def alpha(self, t):
        return _xp(t).ones_like(_as_array(t))

    def sigma2(self, t):
        t = _as_array(t)
        return _xp(t).expm1(2.0 * self._lnb * t) / (2.0 * self._lnb)

    def f(self, t):
        return _xp(t).zeros_like(_as_array(t))

    def g2(self, t):
        t = _as_array(t)
        return _xp(t).exp(2.0 * self._lnb * t)

    def t_of_sigma_hat(self, sigma_hat):
        sh = _as_array(sigma_hat)
        return _xp(sh).log1p(2.0 * self._lnb * sh * sh) / (2.0 * self._lnb)


@dataclass(frozen=True)
class VP(Process):
    """The authors' VP process: beta(t) = beta_min + t (beta_max - beta_min),

    alpha(t) = exp(-B(t)/2),  B(t) = int_0^t beta,  sigma^2 = 1 - alpha^2,
    f = -beta/2,  g2 = beta,  and sigma_hat^2 = exp(B) - 1.
    """

    name: str = "vp"
    T: float = 1.0
    beta_min: float = 0.001
    beta_max: float = 3.0

    def _B(self, t):
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t * t

    def alpha(self, t):
        t = _as_array(t)
        return _xp(t).exp(-0.5 * self._B(t))

    def sigma2(self, t):
        t = _as_array(t)
        return -_xp(t).expm1(-self._B(t))

    def f(self, t):
        return -0.5 * self.g2(t)

    def g2(self, t):
        return self.beta_min + _as_array(t) * (self.beta_max - self.beta_min)

    def t_of_sigma_hat(self, sigma_hat):
        sh = _as_array(sigma_hat)
        xp = _xp(sh)
        B = xp.log1p(sh * sh)
        a, b = self.beta_min, self.beta_max - self.beta_min
        # Root of (b/2) t^2 + a t - B = 0, written without cancellation for small B.
        return 2.0 * B / (a + xp.sqrt(a * a + 2.0 * b * B))


#: The processes by name: the one list of process names (the config schema's
#: ``process_name`` and the workflow's ``{process}`` wildcard are filled in from it).
PROCESSES: dict[str, type[Process]] = {"ve_talk": VETalk, "ve": VE, "vp": VP}


def make_process(name: str | Process, **params: Any) -> Process:
    """The process called ``name`` (one of PROCESSES), with optional parameters."""
    if isinstance(name, Process):
        return name
    if name not in PROCESSES:
        raise SettingError("process", name, f"one of {sorted(PROCESSES)}")
    return PROCESSES[name](**params)
