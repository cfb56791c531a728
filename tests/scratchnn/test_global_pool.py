import numpy as np
import pytest

from scratchnn import GlobalAvgPool, LayerSpecError

from .helpers import bound, check_gradients


def test_each_channel_is_averaged_over_its_positions():
    x = np.arange(2 * 2 * 3 * 2, dtype=np.float64).reshape(2, 2, 3, 2)
    layer = bound(GlobalAvgPool(), (2, 3, 2))
    assert layer.output_shape == (2,)
    # sample 0, channel 0 holds 0, 2, ..., 10 (mean 5); channel 1 holds 1, 3, ..., 11 (mean 6)
    np.testing.assert_array_equal(layer.forward(x), [[5, 6], [17, 18]])


def test_gradients_match_finite_differences():
    layer = bound(GlobalAvgPool(), (3, 4, 2))
    x = np.random.default_rng(0).standard_normal((3, 3, 4, 2))
    dx = check_gradients(layer, x)
    assert dx.shape == x.shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_keeps_the_dtype(dtype):
    layer = bound(GlobalAvgPool(), (2, 2, 3), dtype)
    x = np.ones((4, 2, 2, 3), dtype)
    assert layer.forward(x).dtype == dtype
    assert layer.backward(np.ones((4, 3), dtype)).dtype == dtype


def test_refuses_inputs_that_are_not_images():
    with pytest.raises(LayerSpecError, match=r"global_avgpool needs \(h, w, channels\) inputs"):
        GlobalAvgPool().build((10,))
