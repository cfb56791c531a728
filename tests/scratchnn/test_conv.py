"""Conv2D (im2col) against the textbook loops of ``reference`` and against finite differences."""

import numpy as np
import pytest

from scratchnn import Conv2D, LayerSpecError, build_network
from scratchnn.layers import conv as conv_module

from . import reference
from .gradcheck import assert_close, numerical_gradient
from .helpers import bound, check_gradients

SETTINGS = [  # (kernel, stride, padding, (h, w, c_in), filters)
    (3, 1, 0, (5, 5, 2), 3),
    (3, 1, 1, (5, 4, 1), 2),  # "same" size, a non-square image
    (3, 2, 1, (6, 5, 2), 2),  # stride and padding
    (2, 2, 0, (5, 5, 3), 2),  # the last row and column are in no window
    (5, 1, 2, (4, 4, 2), 1),  # a kernel larger than the image, fitting only with padding
    (1, 1, 0, (3, 3, 4), 2),  # a 1x1 convolution: a dense layer per pixel
]


def conv(setting, dtype=np.float64, seed=0):
    kernel, stride, padding, shape, filters = setting
    layer = Conv2D(filters=filters, kernel=kernel, stride=stride, padding=padding)
    return bound(layer, shape, dtype, rng=np.random.default_rng(seed))


@pytest.mark.parametrize("setting", SETTINGS)
def test_forward_and_backward_equal_the_textbook_loops(setting):
    layer = conv(setting)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, *layer.input_shape))
    y = layer.forward(x)
    expected = reference.conv2d(x, layer.W, layer.b, layer.stride, layer.padding)
    assert y.shape == expected.shape == (3, *layer.output_shape)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy.copy())
    dx_ref, dW_ref, db_ref = reference.conv2d_backward(dy, x, layer.W, layer.stride, layer.padding)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.dW, dW_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.db, db_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("setting", SETTINGS[:5])
def test_gradients_match_finite_differences(setting):
    layer = conv(setting)
    check_gradients(layer, np.random.default_rng(2).standard_normal((2, *layer.input_shape)))


def test_first_layer_skips_dx_and_parameters_are_views():
    layer = conv(SETTINGS[2])
    x = np.random.default_rng(3).standard_normal((2, *layer.input_shape))
    layer.forward(x)
    assert layer.backward(np.ones((2, *layer.output_shape)), need_dx=False) is None
    assert np.shares_memory(layer.W, layer.flat_params)
    assert np.shares_memory(layer.dW, layer.flat_grads) and layer.dW.any()


def test_float32_is_float32_and_close_to_float64():
    layer64, layer32 = conv(SETTINGS[2]), conv(SETTINGS[2], np.float32)
    x = np.random.default_rng(4).standard_normal((2, *layer64.input_shape))
    y32 = layer32.forward(x.astype(np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, layer64.forward(x), rtol=1e-4, atol=1e-5)
    assert layer32.backward(np.ones_like(y32)).dtype == np.float32


def test_a_smaller_batch_after_a_larger_one_reuses_the_buffers():
    layer = conv(SETTINGS[1])
    rng = np.random.default_rng(5)
    big, small = (rng.standard_normal((n, *layer.input_shape)) for n in (6, 2))
    y_big = layer.forward(big)
    y_small = layer.forward(small)
    assert np.shares_memory(y_big, y_small)
    np.testing.assert_allclose(y_small, reference.conv2d(small, layer.W, layer.b, 1, 1), atol=1e-12)


def test_padding_border_stays_zero_across_batches():
    layer = conv(SETTINGS[1])
    rng = np.random.default_rng(6)
    for _ in range(2):  # the second batch must not see the first one's values in the frame
        x = 10 + rng.standard_normal((2, *layer.input_shape))
        np.testing.assert_allclose(
            layer.forward(x), reference.conv2d(x, layer.W, layer.b, 1, 1), atol=1e-10
        )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"filters": 0, "kernel": 3}, "filters=0 is not allowed"),
        ({"filters": 2, "kernel": 0}, "kernel=0 is not allowed"),
        ({"filters": 2, "kernel": 3, "stride": 0}, "stride=0 is not allowed"),
        ({"filters": 2, "kernel": 3, "padding": -1}, "padding=-1 is not allowed"),
    ],
)
def test_bad_settings_are_named(settings, message):
    with pytest.raises(LayerSpecError, match=message):
        Conv2D(**settings)


def test_kernel_larger_than_the_padded_input_is_refused():
    with pytest.raises(LayerSpecError, match=r"kernel=7 is not allowed: .* \(4, 4, 1\)"):
        Conv2D(filters=1, kernel=7, padding=1).build((4, 4, 1))
    with pytest.raises(LayerSpecError, match=r"needs \(h, w, channels\) inputs, got \(16,\)"):
        Conv2D(filters=1, kernel=3).build((16,))


def test_two_convolutions_in_a_row_match_finite_differences():
    """The second one's dx is a strided view (its padding cut off): the first gets it as dy."""
    network = build_network(
        [
            {"type": "conv2d", "filters": 2, "kernel": 3, "padding": 1},
            {"type": "conv2d", "filters": 2, "kernel": 3, "padding": 1},
            {"type": "flatten"},
            {"type": "dense", "units": 2},
        ],
        input_shape=(4, 4, 1),
        rng=np.random.default_rng(0),
        dtype=np.float64,
    )
    x = np.random.default_rng(1).standard_normal((2, 16))
    upstream = np.random.default_rng(2).standard_normal((2, 2))

    def loss() -> float:
        return float(np.sum(network.forward(x, training=True) * upstream))

    loss()
    network.backward(upstream.copy())
    assert_close(network.grads.copy(), numerical_gradient(loss, network.params))


@pytest.mark.parametrize("setting", [SETTINGS[1], SETTINGS[2]], ids=["one channel", "two"])
def test_batches_of_changing_size_give_the_textbook_gradients(setting):
    """One input channel builds cols transposed in a growing buffer, more channels row by row:
    both must survive a larger, then a smaller batch."""
    layer = conv(setting)
    rng = np.random.default_rng(7)
    for n in (2, 5, 3):
        x = rng.standard_normal((n, *layer.input_shape))
        y = layer.forward(x)
        np.testing.assert_allclose(
            y, reference.conv2d(x, layer.W, layer.b, layer.stride, layer.padding), atol=1e-12
        )
        dy = rng.standard_normal(y.shape)
        dx = layer.backward(dy.copy())
        dx_ref, dW_ref, db_ref = reference.conv2d_backward(
            dy, x, layer.W, layer.stride, layer.padding
        )
        np.testing.assert_allclose(dx, dx_ref, atol=1e-12)
        np.testing.assert_allclose(layer.dW, dW_ref, atol=1e-12)
        np.testing.assert_allclose(layer.db, db_ref, atol=1e-12)


@pytest.mark.parametrize("setting", [SETTINGS[1], SETTINGS[2], SETTINGS[4]], ids=str)
def test_chunks_of_one_image_give_the_textbook_results(setting, monkeypatch):
    """Batches are built into cols a few images at a time; with chunks of one image, every
    product is split and dW adds the chunks' parts: the results must not change."""
    monkeypatch.setattr(conv_module, "CHUNK_BYTES", 1)
    layer = conv(setting)
    assert layer._cols.images_per_chunk == 1
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, *layer.input_shape))
    y = layer.forward(x)
    np.testing.assert_allclose(
        y, reference.conv2d(x, layer.W, layer.b, layer.stride, layer.padding), atol=1e-12
    )
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy.copy())
    dx_ref, dW_ref, _ = reference.conv2d_backward(dy, x, layer.W, layer.stride, layer.padding)
    np.testing.assert_allclose(dx, dx_ref, atol=1e-12)
    np.testing.assert_allclose(layer.dW, dW_ref, atol=1e-12)


def test_backward_does_not_depend_on_the_input_staying_unchanged():
    """Backward builds its columns again from the input: from its own copy, so a caller (or an
    in-place layer of another branch) may overwrite x between forward and backward."""
    layer = conv(SETTINGS[0])  # no padding
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, *layer.input_shape))
    dy = rng.standard_normal((2, *layer.output_shape))
    _, dW_ref, _ = reference.conv2d_backward(dy, x, layer.W, layer.stride, layer.padding)
    layer.forward(x)
    x[...] = 0
    layer.backward(dy.copy())
    np.testing.assert_allclose(layer.dW, dW_ref, atol=1e-12)
