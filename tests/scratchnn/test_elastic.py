import math

import numpy as np
import pytest

from scratchnn import ElasticDistortion
from scratchnn.elastic import bilinear, gaussian_matrix

from .reference import read_by_loop, smooth_by_loop


@pytest.mark.parametrize("sigma", [0.7, 1.5, 4.0])
def test_the_smoothing_matrix_is_the_gaussian_filter(sigma):
    field = np.random.default_rng(0).uniform(-1, 1, (9, 9))
    g = gaussian_matrix(9, sigma)
    np.testing.assert_allclose(g @ field @ g, smooth_by_loop(field, sigma), atol=1e-12)
    assert np.allclose(g, g.T)


def test_reading_between_pixels_is_bilinear_with_zeros_outside():
    rng = np.random.default_rng(1)
    images = rng.random((2, 6, 6))
    sy, sx = rng.uniform(-2.5, 8.5, (2, 2, 6, 6))  # some points well outside the image
    out = bilinear(images, sy, sx)
    for b in range(2):
        for r in range(6):
            for q in range(6):
                expected = read_by_loop(images[b], sy[b, r, q], sx[b, r, q])
                assert out[b, r, q] == pytest.approx(expected, abs=1e-12)


def test_whole_pixel_moves_are_exact_and_alpha_zero_changes_nothing():
    images = np.random.default_rng(2).random((3, 7, 7))
    rows, cols = np.mgrid[0:7, 0:7]
    moved = bilinear(images, rows + 1.0, cols - 2.0)  # read 1 below and 2 to the left
    np.testing.assert_array_equal(moved[:, :-1, 2:], images[:, 1:, :-2])
    assert not moved[:, -1, :].any() and not moved[:, :, :2].any()  # zeros came in
    x = images.reshape(3, 49)
    np.testing.assert_array_equal(ElasticDistortion(0.0, 4.0, 7)(x, np.random.default_rng(0)), x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_distorted_batch_keeps_shape_dtype_range_and_is_reproducible(dtype):
    x = np.random.default_rng(3).random((5, 28 * 28)).astype(dtype)
    distort = ElasticDistortion(alpha=34, sigma=4)
    out = distort(x, np.random.default_rng(7))
    assert out.shape == x.shape and out.dtype == dtype
    assert out.min() >= 0 and out.max() <= x.max()  # each pixel a weighted mean of 4 (or 0)
    assert not np.array_equal(out, x)
    np.testing.assert_array_equal(out, distort(x, np.random.default_rng(7)))


def test_the_displacements_have_the_size_simard_chose():
    # A uniform [-1, 1] field has variance 1/3; smoothed by the separable g, an inside pixel's
    # variance is 1/3 (sum g_i^2)^2: about 1.4 pixels for alpha = 34, sigma = 4.
    distort = ElasticDistortion(alpha=34, sigma=4)
    dy, dx = distort.displacements(400, np.random.default_rng(0))
    g = gaussian_matrix(28, 4)
    expected = 34 * math.sqrt(1 / 3) * (g[14] ** 2).sum()
    measured = np.concatenate([dy[:, 14, 14], dx[:, 14, 14]]).std()
    assert measured == pytest.approx(expected, rel=0.1)
    assert 1.2 < expected < 1.6
    neighbours = np.corrcoef(dy[:, 14, 14], dy[:, 14, 15])[0, 1]
    assert neighbours > 0.9  # a warp, not noise: neighbouring pixels move alike


@pytest.mark.parametrize(("alpha", "sigma", "message"), [(-1, 4, "alpha=-1"), (34, 0, "sigma=0")])
def test_bad_settings_are_refused(alpha, sigma, message):
    with pytest.raises(ValueError, match=message):
        ElasticDistortion(alpha, sigma)
