"""Training sets and start points, as pure functions of their parameters and seed."""

from __future__ import annotations

import numpy as np


def authors_points(n: int = 20, dim: int = 2, seed: int = 1) -> np.ndarray:
    """The authors' 2-D data: ``numpy.random.RandomState(seed).randn(n, dim)`` (seed 1, n 20)."""
    return np.random.RandomState(seed).randn(n, dim)


def gaussian_samples(n: int, dim: int, seed: int, scale: float = 1.0) -> np.ndarray:
    """n i.i.d. draws of N(0, scale^2 I_dim)."""
    if n < 1 or dim < 1:
        raise ValueError(f"need n >= 1 and dim >= 1, got n={n}, dim={dim}")
    return scale * np.random.default_rng(seed).standard_normal((n, dim))


def point_set(points: list[list[float]]) -> np.ndarray:
    """A small fixed point set, e.g. [[1, 0], [-1, 0]], as an (N, d) float64 array."""
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 2 or len(arr) == 0:
        raise ValueError(f"a point set is a non-empty list of coordinate lists, got {points!r}")
    return arr


def square_boundary_starts(half_width: float = 2.1, per_side: int = 21) -> np.ndarray:
    """Points on the boundary of [-h, h]^2, ``per_side`` per side (corners shared): shape
    (4 (per_side - 1), 2). Coordinates are h k / m for integers |k| <= m = (per_side - 1) / 2
    when per_side is odd, so the axes and the diagonals are hit exactly."""
    if per_side < 2:
        raise ValueError(f"per_side must be >= 2, got {per_side}")
    m = per_side - 1
    u = half_width * (2.0 * np.arange(per_side) - m) / m
    bottom = np.stack([u[:-1], np.full(m, -half_width)], axis=1)
    right = np.stack([np.full(m, half_width), u[:-1]], axis=1)
    top = np.stack([u[::-1][:-1], np.full(m, half_width)], axis=1)
    left = np.stack([np.full(m, -half_width), u[::-1][:-1]], axis=1)
    return np.concatenate([bottom, right, top, left])
