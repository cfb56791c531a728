"""Max and average pooling against the textbook loops and against finite differences.

The convention for ties in max pooling: the whole gradient goes to the *first* maximum of the
window in reading order (row by row), as ``np.argmax`` of the row-major window finds it."""

import numpy as np
import pytest

from scratchnn import AvgPool2D, LayerSpecError, MaxPool2D

from . import reference
from .helpers import bound, check_gradients

SETTINGS = [  # (pool, stride, (h, w, c))
    (2, None, (4, 6, 2)),  # windows tile the image: the common case
    (2, None, (5, 5, 1)),  # an odd side: the last row and column are in no window
    (3, 2, (7, 5, 2)),  # overlapping windows: a pixel can get gradient from several
    (2, 3, (8, 8, 1)),  # gaps between windows
]


def distinct_inputs(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """No two values equal, and every two at least 0.01 apart: no tie, even after +-eps."""
    x = np.random.default_rng(seed).permutation(int(np.prod(shape))) * 0.01
    return x.reshape(shape)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("setting", SETTINGS)
def test_forward_and_backward_equal_the_textbook_loops(kind, setting):
    pool, stride, shape = setting
    layer = bound((MaxPool2D if kind == "max" else AvgPool2D)(pool, stride), shape)
    step = pool if stride is None else stride
    x = distinct_inputs((3, *shape))
    y = layer.forward(x)
    expected = getattr(reference, f"{kind}pool")(x, pool, step)
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    dx = layer.backward(dy.copy())
    np.testing.assert_allclose(
        dx, getattr(reference, f"{kind}pool_backward")(dy, x, pool, step), rtol=1e-12
    )


@pytest.mark.parametrize("kind", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize("setting", SETTINGS)
def test_gradients_match_finite_differences(kind, setting):
    pool, stride, shape = setting
    check_gradients(bound(kind(pool, stride), shape), distinct_inputs((2, *shape), seed=2))


def test_ties_send_the_gradient_to_the_first_maximum_in_reading_order():
    layer = bound(MaxPool2D(2), (2, 4, 1))
    x = np.array(
        [
            [[3.0], [3.0], [0.0], [1.0]],  # window 1: a tie on its top row
            [[3.0], [1.0], [1.0], [1.0]],
        ]
    )[None]  # window 2: a three-way tie on 1

    np.testing.assert_array_equal(layer.forward(x)[0, 0, :, 0], [3.0, 1.0])
    dx = layer.backward(np.array([[[[10.0], [20.0]]]]))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[10.0, 0, 0, 20.0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(
        dx, reference.maxpool_backward(np.array([[[[10.0], [20.0]]]]), x, 2, 2)
    )


def test_all_zero_windows_after_relu_give_one_gradient_each():
    layer = bound(MaxPool2D(2), (4, 4, 3))
    x = np.zeros((2, 4, 4, 3))
    layer.forward(x)
    dx = layer.backward(np.ones((2, 2, 2, 3)))
    assert dx.sum() == 2 * 2 * 2 * 3 and dx[:, ::2, ::2].all()  # the top-left of each window


def test_float32_stays_float32():
    layer = bound(MaxPool2D(2), (4, 4, 2), np.float32)
    y = layer.forward(distinct_inputs((2, 4, 4, 2)).astype(np.float32))
    assert y.dtype == np.float32 and layer.backward(np.ones_like(y)).dtype == np.float32


def test_bad_settings_are_named():
    with pytest.raises(LayerSpecError, match="pool=0 is not allowed"):
        MaxPool2D(0)
    with pytest.raises(LayerSpecError, match="stride=0 is not allowed"):
        AvgPool2D(2, 0)
    with pytest.raises(LayerSpecError, match=r"pool=5 is not allowed: .* \(4, 4, 1\)"):
        MaxPool2D(5).build((4, 4, 1))


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_tiling_windows_reuse_their_planes_across_batch_sizes(kind):
    """Tiling windows work on planes copied into reused buffers: a larger, then a smaller batch
    must still give the textbook values."""
    layer = bound((MaxPool2D if kind == "max" else AvgPool2D)(2), (4, 6, 2))
    rng = np.random.default_rng(3)
    for n in (2, 5, 3):
        x = distinct_inputs((n, 4, 6, 2), seed=n)
        np.testing.assert_allclose(layer.forward(x), getattr(reference, f"{kind}pool")(x, 2, 2))
        dy = rng.standard_normal((n, 2, 3, 2))
        np.testing.assert_allclose(
            layer.backward(dy.copy()), getattr(reference, f"{kind}pool_backward")(dy, x, 2, 2)
        )
