"""Memorization criteria, bootstrap intervals, Voronoi geometry and rate fits."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import Voronoi

from memreg.data import authors_points
from memreg.metrics import (
    INTERIOR,
    TRAINING_POINT,
    VORONOI_BOUNDARY,
    bootstrap_fraction,
    classify_limit,
    equidistant_mean,
    fit_rate,
    memorization_summary,
    memorized_by_distance,
    memorized_by_ratio,
    nearest_distances,
    voronoi_boundary_distance,
    voronoi_cell,
    voronoi_polygons,
)

TRAIN = authors_points()
FOUR = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])


def brute_force(x, train):
    d1, d2, i1 = [], [], []
    for row in x:
        ds = [float(np.sqrt(np.sum((row - p) ** 2))) for p in train]
        order = sorted(range(len(ds)), key=lambda k: ds[k])
        d1.append(ds[order[0]])
        d2.append(ds[order[1]] if len(ds) > 1 else np.inf)
        i1.append(order[0])
    return np.array(d1), np.array(d2), np.array(i1)


def test_nearest_distances_vs_brute_force():
    rng = np.random.default_rng(0)
    for n, d in [(20, 2), (7, 5), (1, 3)]:
        train = rng.standard_normal((n, d))
        x = np.concatenate([train[:1] + 1e-9, 2 * rng.standard_normal((30, d))])
        got = nearest_distances(x, train)
        ref = brute_force(x, train)
        np.testing.assert_allclose(got[0], ref[0], rtol=1e-14)
        np.testing.assert_allclose(got[1], ref[1], rtol=1e-14)
        np.testing.assert_array_equal(got[2], ref[2])
        np.testing.assert_array_equal(voronoi_cell(x, train), ref[2])
    assert np.all(np.isinf(nearest_distances(x, train[:1])[1]))


def test_memorized_by_distance_hand_built():
    train = np.array([[0.0, 0.0], [10.0, 0.0]])
    x = np.array([[0.005, 0.0], [0.0, 0.02], [9.995, 0.001], [5.0, 5.0], [0.01, 0.0]])
    np.testing.assert_array_equal(
        memorized_by_distance(x, train, 1e-2), [True, False, True, False, False]
    )
    np.testing.assert_array_equal(
        memorized_by_distance(x, train, 5e-2), [True, True, True, False, True]
    )


def test_memorized_by_ratio_hand_built():
    train = np.array([[0.0, 0.0], [4.0, 0.0]])
    # d1 / d2 for x = (a, 0), 0 <= a <= 2: a / (4 - a); below 1/3 iff a < 1.
    x = np.array([[0.5, 0.0], [0.99, 0.0], [1.01, 0.0], [2.0, 0.0], [3.5, 0.0]])
    np.testing.assert_array_equal(memorized_by_ratio(x, train), [True, True, False, False, True])
    np.testing.assert_array_equal(
        memorized_by_ratio(x, train, ratio=1.0 / 2.0), [True, True, True, False, True]
    )


def test_bootstrap_fraction():
    rng = np.random.default_rng(1)
    small = rng.random(60) < 0.3
    a = bootstrap_fraction(small, seed=3)
    assert a == bootstrap_fraction(small, seed=3)
    assert a != bootstrap_fraction(small, seed=4)
    frac, lo, hi = a
    assert frac == pytest.approx(small.mean())
    assert lo <= frac <= hi and lo < hi
    big = rng.random(6000) < 0.3
    f2, lo2, hi2 = bootstrap_fraction(big, seed=3)
    assert hi2 - lo2 < 0.5 * (hi - lo)
    # Width ~ 2 * 1.96 sqrt(p (1 - p) / n).
    assert hi2 - lo2 == pytest.approx(2 * 1.96 * np.sqrt(f2 * (1 - f2) / 6000), rel=0.15)
    assert bootstrap_fraction(np.ones(50, dtype=bool)) == (1.0, 1.0, 1.0)
    assert bootstrap_fraction(np.zeros(50, dtype=bool)) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        bootstrap_fraction(np.array([], dtype=bool))


def test_boundary_distance_two_points_hand_formula():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(2), rng.standard_normal(2)
    train = np.stack([a, b])
    x = 3 * rng.standard_normal((50, 2))
    n = (b - a) / np.linalg.norm(b - a)
    expected = np.abs((x - 0.5 * (a + b)) @ n)
    np.testing.assert_allclose(voronoi_boundary_distance(x, train), expected, rtol=1e-10)
    assert np.all(np.isinf(voronoi_boundary_distance(x, train[:1])))


def ray_exit_distance(x, i, train, directions, r_max=100.0, iters=48):
    """Distance along each ray from x to where the nearest training point stops being i,
    by bisection on the nearest-point predicate (inf if the ray never leaves the cell)."""

    def inside(r):
        pts = x[None, :] + r[:, None] * directions
        d2 = ((pts[:, None, :] - train[None]) ** 2).sum(-1)
        return np.argmin(d2, axis=1) == i

    lo = np.zeros(len(directions))
    hi = np.full(len(directions), r_max)
    never = inside(hi)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        ok = inside(mid)
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    return np.where(never, np.inf, hi)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_boundary_distance_is_distance_to_where_nearest_point_changes(seed):
    rng = np.random.default_rng(seed)
    train = rng.standard_normal((12, 2))
    angles = np.linspace(0.0, 2 * np.pi, 3600, endpoint=False)
    directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    x = 1.5 * rng.standard_normal((6, 2))
    got = voronoi_boundary_distance(x, train)
    cells = voronoi_cell(x, train)
    for b in range(len(x)):
        exits = ray_exit_distance(x[b], cells[b], train, directions)
        # No ray leaves the cell before the boundary distance, and the nearest ray leaves
        # right at it (angular step 1.7e-3 rad: relative error below 4e-7).
        assert exits.min() >= got[b] * (1 - 1e-9)
        assert exits.min() <= got[b] * (1 + 1e-5)


def test_classify_limit():
    x = np.array(
        [
            [1.0 + 1e-4, 0.0],  # training point
            [-1.0, 1e-5],  # training point
            [0.5, 0.5],  # on the face between (1, 0) and (0, 1)
            [0.3, 0.3 + 1e-5],  # near that face
            [-0.7, -0.7],  # face between (-1, 0) and (0, -1)
            [0.0, 0.0],  # all four equidistant
            [0.6, 0.1],  # interior of V((1, 0))
            [2.0, 0.5],  # interior, far out
        ]
    )
    got = classify_limit(x, FOUR, tol=1e-3)
    expected = [TRAINING_POINT] * 2 + [VORONOI_BOUNDARY] * 4 + [INTERIOR] * 2
    np.testing.assert_array_equal(got, expected)
    # Interior points on the authors' data, away from everything.
    polys = voronoi_polygons(TRAIN, (-3, 3, -3, 3))
    inner = np.array([p.mean(axis=0) for p in polys])
    labels = classify_limit(inner, TRAIN, tol=1e-6)
    assert np.all((labels == INTERIOR) | (labels == TRAINING_POINT))
    assert np.all(classify_limit(TRAIN, TRAIN, tol=1e-12) == TRAINING_POINT)


def test_classify_limit_on_voronoi_edges_of_authors_data():
    polys = voronoi_polygons(TRAIN, (-3, 3, -3, 3))
    pts = []
    for p in polys:
        for k in range(len(p)):
            m = 0.5 * (p[k] + p[(k + 1) % len(p)])
            if np.all(np.abs(np.abs(m) - 3.0) > 1e-9):  # not an edge of the box
                pts.append(m)
    pts = np.array(pts)
    assert len(pts) > 20
    d1, d2, _ = nearest_distances(pts, TRAIN)
    np.testing.assert_allclose(d1, d2, rtol=1e-9)
    np.testing.assert_array_equal(classify_limit(pts, TRAIN, tol=1e-8), VORONOI_BOUNDARY)


def test_equidistant_mean():
    x = np.array([[0.0, 0.0], [0.3, 0.3], [-0.2, -0.2], [2.0, 0.1], [0.0, -3.0]])
    expected = np.array([[0.0, 0.0], [0.5, 0.5], [-0.5, -0.5], [1.0, 0.0], [0.0, -1.0]])
    np.testing.assert_allclose(equidistant_mean(x, FOUR), expected, atol=1e-15)
    two = np.array([[1.0, 0.0], [-1.0, 0.0]])
    np.testing.assert_allclose(equidistant_mean(np.array([[0.0, 5.0]]), two), [[0.0, 0.0]])


def test_fit_rate():
    s = np.linspace(0.0, 20.0, 81)
    for rate in [0.5, 1.0, 2.3]:
        dist = 3.7 * np.exp(-rate * s)
        assert fit_rate(s, dist, (2.0, 18.0)) == pytest.approx(rate, rel=1e-10)
    # Only the window is used: a kink outside it does not matter.
    dist = np.where(s < 5, np.exp(-3 * s), np.exp(-15) * np.exp(-(s - 5)))
    assert fit_rate(s, dist, (6.0, 20.0)) == pytest.approx(1.0, rel=1e-10)
    # Zeros are excluded, not turned into -inf.
    dist = np.exp(-s)
    dist[-10:] = 0.0
    assert fit_rate(s, dist, (0.0, 20.0)) == pytest.approx(1.0, rel=1e-10)
    assert np.isnan(fit_rate(s, np.exp(-s), (30.0, 40.0)))
    assert np.isnan(fit_rate(s, np.exp(-s), (1.0, 1.1)))  # a single grid point
    assert np.isnan(fit_rate(s, np.zeros_like(s), (0.0, 20.0)))


def polygon_area(p):
    x, y = p[:, 0], p[:, 1]
    return 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def check_polygons(train, bbox):
    polys = voronoi_polygons(train, bbox)
    xmin, xmax, ymin, ymax = bbox
    assert len(polys) == len(train)
    for p in polys:
        assert p.ndim == 2 and p.shape[1] == 2
        if len(p) == 0:
            continue
        d1, d2, _ = nearest_distances(p, train)
        on_box = (
            np.isclose(p[:, 0], xmin, atol=1e-12)
            | np.isclose(p[:, 0], xmax, atol=1e-12)
            | np.isclose(p[:, 1], ymin, atol=1e-12)
            | np.isclose(p[:, 1], ymax, atol=1e-12)
        )
        assert np.all(on_box | (np.abs(d2 - d1) < 1e-9))
        assert np.all((p[:, 0] >= xmin - 1e-12) & (p[:, 0] <= xmax + 1e-12))
        assert np.all((p[:, 1] >= ymin - 1e-12) & (p[:, 1] <= ymax + 1e-12))
    areas = np.array([polygon_area(p) if len(p) >= 3 else 0.0 for p in polys])
    assert areas.sum() == pytest.approx((xmax - xmin) * (ymax - ymin), rel=1e-12)
    # Random points of the box lie in the polygon of their nearest training point.
    rng = np.random.default_rng(7)
    pts = np.column_stack([rng.uniform(xmin, xmax, 2000), rng.uniform(ymin, ymax, 2000)])
    cell = voronoi_cell(pts, train)
    for i, p in enumerate(polys):
        mine = pts[cell == i]
        if len(mine) == 0:
            continue
        edges = np.roll(p, -1, axis=0) - p
        rel = mine[:, None, :] - p[None]
        cross = edges[None, :, 0] * rel[..., 1] - edges[None, :, 1] * rel[..., 0]
        assert np.all(cross >= -1e-12), i  # counter-clockwise convex polygon
    return polys


def test_voronoi_polygons_authors_data_vs_scipy():
    bbox = (-3.0, 3.0, -3.0, 3.0)
    polys = check_polygons(TRAIN, bbox)
    verts = np.concatenate(polys)
    vor = Voronoi(TRAIN)
    inside = vor.vertices[
        (np.abs(vor.vertices[:, 0]) < 3.0 - 1e-9) & (np.abs(vor.vertices[:, 1]) < 3.0 - 1e-9)
    ]
    assert len(inside) > 5
    for v in inside:
        assert np.min(np.linalg.norm(verts - v, axis=1)) < 1e-9
    # Each region of scipy's diagram, where bounded and inside the box, has the same area.
    for i, region_index in enumerate(vor.point_region):
        region = vor.regions[region_index]
        if -1 in region or len(region) == 0:
            continue
        poly = vor.vertices[region]
        if np.all(np.abs(poly) < 3.0):
            assert polygon_area(polys[i]) == pytest.approx(polygon_area(poly), rel=1e-9)


def test_voronoi_polygons_small_sets():
    two = np.array([[1.0, 0.0], [-1.0, 0.0]])
    polys = check_polygons(two, (-2.0, 2.0, -1.0, 1.0))
    assert polygon_area(polys[0]) == pytest.approx(4.0)
    assert polys[0][:, 0].min() == pytest.approx(0.0, abs=1e-15)
    with pytest.raises(Exception):  # noqa: B017 - scipy's Qhull cannot do this one
        Voronoi(two)
    check_polygons(FOUR, (-2.1, 2.1, -2.1, 2.1))
    one = check_polygons(np.array([[0.2, 0.3]]), (-1.0, 1.0, -1.0, 1.0))
    assert polygon_area(one[0]) == pytest.approx(4.0)
    # A training point outside the box: its cell is cut away entirely.
    polys = check_polygons(np.array([[0.0, 0.0], [5.0, 0.0], [0.5, 0.2]]), (-1.0, 1.0, -1.0, 1.0))
    assert polys[1].shape == (0, 2)


def test_memorization_summary_is_the_two_criteria_and_the_bootstrap():
    """The columns equal the criteria computed from the distances directly (as the
    summary computed them inline before it called memorized_by_distance/_ratio)."""
    rng = np.random.default_rng(5)
    train, samples = rng.normal(size=(20, 2)), rng.normal(size=(300, 2))
    row = memorization_summary(samples, train, 0.2, n_boot=200, seed=3)
    d1, d2, _ = nearest_distances(samples, train)
    assert row["fraction_matched"] == float(np.mean(d1 < 0.2)) > 0
    assert (row["ci_low"], row["ci_high"]) == bootstrap_fraction(d1 < 0.2, 200, seed=3)[1:]
    assert row["fraction_ratio_criterion"] == float(np.mean(d1 < d2 / 3.0)) > 0
    assert row["median_nearest_distance"] == float(np.median(d1))
    assert (row["n_samples"], row["delta"]) == (300, 0.2)
    half = memorization_summary(samples, train, 0.2, ratio=0.5, n_boot=200)
    assert half["fraction_ratio_criterion"] == float(np.mean(d1 < 0.5 * d2))
