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


def square_images(squares: list[list[int]], resolution: int = 64) -> np.ndarray:
    """Binary images (N, resolution, resolution) in {0, 1}, one square each.

    ``squares`` lists [row, col, size]: ones at rows row..row+size-1 and columns
    col..col+size-1, zeros elsewhere. The authors' N = 2 set at 64x64 is
    [[6, 6, 12], [40, 40, 14]] (rows and columns 6..17 and 40..53)."""
    out = np.zeros((len(squares), resolution, resolution))
    if len(squares) == 0:
        raise ValueError("square_images needs at least one square")
    for k, sq in enumerate(squares):
        if len(sq) != 3:
            raise ValueError(f"a square is [row, col, size], got {sq!r}")
        row, col, size = (int(v) for v in sq)
        if size < 1 or row < 0 or col < 0 or row + size > resolution or col + size > resolution:
            raise ValueError(f"square {sq!r} does not fit in a {resolution}x{resolution} image")
        out[k, row : row + size, col : col + size] = 1.0
    if len({img.tobytes() for img in out}) < len(out):
        raise ValueError(f"squares {squares!r} give identical images")
    return out


def scale_squares(squares: list[list[int]], factor: float) -> list[list[int]]:
    """Squares [row, col, size] scaled by ``factor`` (e.g. 1/4 for 64x64 -> 16x16), at least
    one pixel in size."""
    return [
        [round(r * factor), round(c * factor), max(1, round(s * factor))] for r, c, s in squares
    ]
