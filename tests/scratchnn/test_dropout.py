import numpy as np
import pytest

from scratchnn import Dropout, LayerSpecError

from .helpers import bound, check_gradients


def test_evaluation_is_the_identity():
    layer = bound(Dropout(0.5), (6,))
    x = np.random.default_rng(0).standard_normal((4, 6))
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.backward(np.ones((4, 6))), np.ones((4, 6)))


def test_training_drops_a_fraction_rate_and_scales_the_rest():
    layer = bound(Dropout(0.3), (100,))
    x = np.ones((200, 100))
    y = layer.forward(x, training=True, rng=np.random.default_rng(0))
    assert set(np.unique(y)) == {0.0, 1 / 0.7}
    assert abs(np.mean(y == 0) - 0.3) < 0.01
    assert abs(y.mean() - 1) < 0.02  # inverted dropout: the expected output is the input


def test_masks_come_from_the_generator_given():
    layer = bound(Dropout(0.5), (10,), np.float32)
    x = np.ones((5, 10), np.float32)
    first = layer.forward(x, training=True, rng=np.random.default_rng(7)).copy()
    again = layer.forward(x, training=True, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(first, again)
    other = layer.forward(x, training=True, rng=np.random.default_rng(8))
    assert not np.array_equal(first, other) and other.dtype == np.float32


def test_gradient_with_a_fixed_mask_matches_finite_differences():
    layer = bound(Dropout(0.4), (3, 3, 2))
    x = np.random.default_rng(1).standard_normal((3, 3, 3, 2))
    dx = check_gradients(layer, x, training=True, seed=5)  # the same mask at every forward
    assert (dx == 0).any() and (dx != 0).any()


def test_rate_zero_draws_nothing():
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    x = np.ones((2, 3))
    np.testing.assert_array_equal(bound(Dropout(0.0), (3,)).forward(x, True, rng), x)
    assert rng.bit_generator.state == state


def test_training_without_a_generator_is_refused():
    with pytest.raises(ValueError, match="rng"):
        bound(Dropout(0.5), (3,)).forward(np.ones((2, 3)), training=True)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_rate_must_be_a_fraction(rate):
    with pytest.raises(LayerSpecError, match=f"rate={rate} is not allowed"):
        Dropout(rate)
