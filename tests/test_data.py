"""Training sets and start points."""

from __future__ import annotations

import numpy as np
import pytest

from memreg.data import (
    authors_points,
    gaussian_samples,
    point_set,
    scale_squares,
    square_boundary_starts,
    square_images,
)


def test_authors_points_are_the_authors_data():
    """The first three points of np.random.seed(1); np.random.randn(20, 2) (the authors'
    generate_data.py), written out: numpy's legacy Mersenne-Twister normals for seed 1 begin
    1.62434536, -0.61175641, -0.52817175, -1.07296862, 0.86540763, -2.30153870."""
    x = authors_points()
    assert x.shape == (20, 2) and x.dtype == np.float64
    first = [[1.62434536, -0.61175641], [-0.52817175, -1.07296862], [0.86540763, -2.30153870]]
    np.testing.assert_allclose(x[:3], first, rtol=0, atol=5e-9)
    other = authors_points(5, 3, seed=2)
    assert other.shape == (5, 3) and not np.allclose(other[0, :2], first[0])


def test_gaussian_samples():
    a = gaussian_samples(500, 3, seed=4, scale=2.0)
    assert a.shape == (500, 3) and a.dtype == np.float64
    np.testing.assert_array_equal(a, gaussian_samples(500, 3, seed=4, scale=2.0))
    assert not np.array_equal(a, gaussian_samples(500, 3, seed=5, scale=2.0))
    np.testing.assert_allclose(a, 2.0 * gaussian_samples(500, 3, seed=4))
    assert a.std() == pytest.approx(2.0, rel=0.1)
    for n, d in [(0, 2), (3, 0), (-1, 2)]:
        with pytest.raises(ValueError):
            gaussian_samples(n, d, seed=0)


def test_point_set():
    p = point_set([[1, 0], [-1, 0]])
    assert p.dtype == np.float64 and p.shape == (2, 2)
    np.testing.assert_array_equal(p, [[1.0, 0.0], [-1.0, 0.0]])
    for bad in [[], [1.0, 2.0], [[[1.0]]]]:
        with pytest.raises(ValueError):
            point_set(bad)
    with pytest.raises(ValueError):
        point_set([[1.0, 2.0], [3.0]])  # ragged


def test_square_boundary_starts():
    h = 2.1
    x = square_boundary_starts(h, 21)
    assert x.shape == (80, 2)
    # On the boundary of the square: max(|x|, |y|) = h exactly.
    np.testing.assert_array_equal(np.abs(x).max(axis=1), h)
    assert len(np.unique(x, axis=0)) == 80
    rows = {tuple(r) for r in x.tolist()}
    for p in [(0.0, h), (0.0, -h), (h, 0.0), (-h, 0.0), (h, h), (h, -h), (-h, h), (-h, -h)]:
        assert p in rows, p
    # 21 equispaced points per side, corners shared: spacing 2h / 20 on each side.
    for side in [x[:, 1] == -h, x[:, 1] == h]:
        xs = np.sort(x[side, 0])
        assert len(xs) == 21
        np.testing.assert_allclose(np.diff(xs), 2 * h / 20, rtol=1e-12)
    # The diagonals are hit exactly too (for the 4-point set's Voronoi faces).
    assert np.sum(np.abs(x[:, 0]) == np.abs(x[:, 1])) == 4
    assert square_boundary_starts(1.0, 2).shape == (4, 2)
    with pytest.raises(ValueError):
        square_boundary_starts(1.0, 1)


def test_square_images_match_the_authors_description():

    images = square_images([[6, 6, 12], [40, 40, 14]], 64)
    assert images.shape == (2, 64, 64)
    rows, cols = np.nonzero(images[0])
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (6, 17, 6, 17)
    rows, cols = np.nonzero(images[1])
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (40, 53, 40, 53)
    assert set(np.unique(images)) == {0.0, 1.0}


def test_squares_scale_and_bad_squares_are_refused():

    assert scale_squares([[6, 6, 12], [40, 40, 14]], 0.25) == [[2, 2, 3], [10, 10, 4]]
    with pytest.raises(ValueError, match="does not fit"):
        square_images([[60, 60, 12]], 64)
    with pytest.raises(ValueError, match="identical images"):
        square_images([[1, 1, 2], [1, 1, 2]], 8)
    with pytest.raises(ValueError, match=r"\[row, col, size\]"):
        square_images([[1, 1]], 8)
