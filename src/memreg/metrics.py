"""Memorization criteria, Voronoi geometry of the training set, convergence rates.

All distances come from direct differences x - x_n in float64 (numpy).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

TRAINING_POINT = "training_point"
VORONOI_BOUNDARY = "voronoi_boundary"
INTERIOR = "interior"

# Gu et al. (2023): a sample is memorized when d1 / d2 is below this (nearest over
# second-nearest distance). Labels, table headers and the manuscript write it with
# ratio_text.
GU_RATIO = 1.0 / 3.0
#: Bootstrap resamples of a 95 % interval: the one library default (ours). config.yaml states
#: it for each family (regularization, neural, unet.evaluation, claims); tests/test_defaults.py
#: holds those equal to it.
N_BOOT = 2000


def ratio_text(ratio: float = GU_RATIO) -> str:
    """``ratio`` as a short fraction, ``"1/3"`` for ``GU_RATIO`` (decimal if none fits)."""
    frac = Fraction(ratio).limit_denominator(100)
    if abs(float(frac) - ratio) > 1e-12 * abs(ratio):
        return f"{ratio:g}"
    return str(frac.numerator) if frac.denominator == 1 else f"{frac.numerator}/{frac.denominator}"


def _rows(a: np.ndarray) -> np.ndarray:
    """``a`` as a float64 (rows, features) array; a single 1-D point is one row."""
    a = np.asarray(a, dtype=np.float64)
    a = a[None] if a.ndim == 1 else a
    return a.reshape(a.shape[0], int(np.prod(a.shape[1:])))


def _sq_dists(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    """|x_b - x_n|^2 for every query b and training point n: shape (B, N)."""
    x, train = _rows(x), _rows(train)
    diff = x[:, None, :] - train[None, :, :]
    return np.einsum("bnd,bnd->bn", diff, diff)


def nearest_distances(x: np.ndarray, train: np.ndarray):
    """(d1, d2, i1): distances to the nearest and second-nearest training points, nearest index.

    With a single training point d2 is +inf.
    """
    d2 = _sq_dists(x, train)
    order = np.argsort(d2, axis=1, kind="stable")
    rows = np.arange(len(d2))
    first = np.sqrt(d2[rows, order[:, 0]])
    second = np.sqrt(d2[rows, order[:, 1]]) if d2.shape[1] > 1 else np.full(len(d2), np.inf)
    return first, second, order[:, 0]


def memorized_by_distance(x: np.ndarray, train: np.ndarray, delta: float) -> np.ndarray:
    """A sample matches the data when its nearest training point is closer than delta."""
    return nearest_distances(x, train)[0] < delta


def memorized_by_ratio(x: np.ndarray, train: np.ndarray, ratio: float = GU_RATIO) -> np.ndarray:
    """Gu et al. (2023): memorized when d1 / d2 < ratio (nearest over second-nearest distance)."""
    d1, d2, _ = nearest_distances(x, train)
    return d1 < ratio * d2


def bootstrap_fraction(
    indicator: np.ndarray, n_boot: int = N_BOOT, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Fraction of True values and its percentile-bootstrap interval: (frac, low, high)."""
    indicator = np.asarray(indicator, dtype=np.float64)
    if indicator.size == 0:
        raise ValueError("cannot take the fraction of an empty sample")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, indicator.size, size=(n_boot, indicator.size))
    means = indicator[idx].mean(axis=1)
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(indicator.mean()), float(low), float(high)


def voronoi_cell(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Index of the Voronoi cell V(x_n) containing each row of x (the nearest training point)."""
    return nearest_distances(x, train)[2]


def voronoi_boundary_distance(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Distance from x to the boundary of its Voronoi cell i:

        min_{j != i} (|x - x_j|^2 - |x - x_i|^2) / (2 |x_i - x_j|).

    Each term is the distance from x to the bisector of x_i and x_j. Infinite when N = 1.
    """
    train = np.asarray(train, dtype=np.float64)
    d2 = _sq_dists(x, train)
    i = np.argmin(d2, axis=1)
    rows = np.arange(len(d2))
    sep = np.sqrt(_sq_dists(train[i], train))  # |x_i - x_j|, shape (B, N)
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = (d2 - d2[rows, i][:, None]) / (2.0 * sep)
    dist[rows, i] = np.inf
    return np.min(dist, axis=1)


def equidistant_mean(x: np.ndarray, train: np.ndarray, rtol: float = 1e-9) -> np.ndarray:
    """Mean of the training points (nearly) equidistant to x among the nearest: shape (B, d).

    For x in the interior of a cell this is its cell's point; on a Voronoi face
    it is the mean of the points that share that face.
    """
    train = np.asarray(train, dtype=np.float64)
    d = np.sqrt(_sq_dists(x, train))
    near = d <= d.min(axis=1, keepdims=True) * (1.0 + rtol) + rtol
    return (near @ train) / near.sum(axis=1, keepdims=True)


def classify_limit(x: np.ndarray, train: np.ndarray, tol: float) -> np.ndarray:
    """'training_point' if within tol of a training point, else 'voronoi_boundary' if within
    tol of its cell's boundary, else 'interior'."""
    d1, _, _ = nearest_distances(x, train)
    boundary = voronoi_boundary_distance(x, train)
    return np.where(d1 < tol, TRAINING_POINT, np.where(boundary < tol, VORONOI_BOUNDARY, INTERIOR))


def fit_rate(s: np.ndarray, distance: np.ndarray, window: tuple[float, float]) -> float:
    """Rate r of |y(s) - x*| ~ K e^{-r s}: minus the least-squares slope of log distance
    against s over s in [window[0], window[1]] (zero distances excluded). NaN if < 2 points."""
    s, distance = np.asarray(s), np.asarray(distance)
    keep = (s >= window[0]) & (s <= window[1]) & (distance > 0)
    if keep.sum() < 2:
        return float("nan")
    slope = np.polyfit(s[keep], np.log(distance[keep]), 1)[0]
    return float(-slope)


def voronoi_polygons(
    train: np.ndarray, bbox: tuple[float, float, float, float]
) -> list[np.ndarray]:
    """The Voronoi cells of 2-D ``train`` clipped to bbox = (xmin, xmax, ymin, ymax):
    one (k, 2) polygon per training point, cut by the half-planes
    {x : (x - (x_i + x_j)/2) . (x_j - x_i) <= 0} (Sutherland-Hodgman). Works for any N >= 1."""
    train = np.asarray(train, dtype=np.float64)
    xmin, xmax, ymin, ymax = bbox
    box = np.array([[xmin, ymin], [xmax, ymin], [xmax, ymax], [xmin, ymax]], dtype=np.float64)
    cells = []
    for i, xi in enumerate(train):
        poly = box
        for j, xj in enumerate(train):
            if j == i or len(poly) == 0:
                continue
            normal, mid = xj - xi, 0.5 * (xi + xj)
            poly = _clip(poly, normal, float(normal @ mid))
        cells.append(poly)
    return cells


def _clip(poly: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
    """Part of convex polygon ``poly`` with normal . x <= offset."""
    out = []
    vals = poly @ normal - offset
    for k in range(len(poly)):
        p, q, vp, vq = poly[k], poly[(k + 1) % len(poly)], vals[k], vals[(k + 1) % len(poly)]
        if vp <= 0:
            out.append(p)
        if (vp < 0 < vq) or (vq < 0 < vp):
            out.append(p + (q - p) * (vp / (vp - vq)))
    return np.array(out).reshape(-1, 2)


def memorization_summary(
    samples: np.ndarray,
    train: np.ndarray,
    delta: float,
    ratio: float = GU_RATIO,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> dict[str, float]:
    """The memorization columns of a results table for one set of samples:
    n_samples, delta, fraction_matched (d1 < delta) with its bootstrap 95% interval
    (ci_low, ci_high), fraction_ratio_criterion (d1 / d2 < ratio), median_nearest_distance."""
    matched = memorized_by_distance(samples, train, delta)
    fraction, low, high = bootstrap_fraction(matched, n_boot=n_boot, seed=seed)
    return {
        "n_samples": len(samples),
        "delta": float(delta),
        "fraction_matched": fraction,
        "ci_low": low,
        "ci_high": high,
        "fraction_ratio_criterion": float(np.mean(memorized_by_ratio(samples, train, ratio))),
        "median_nearest_distance": float(np.median(nearest_distances(samples, train)[0])),
    }
