import numpy as np
import pytest

from scratchnn import LayerNorm, LayerSpecError

from .helpers import bound, check_gradients

SHAPES = [(5,), (6, 5)]  # flat (batch, d) and tokens (batch, T, d)


def batch(shape: tuple[int, ...], n: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 3 + 2 * rng.standard_normal((n, *shape))


@pytest.mark.parametrize("shape", SHAPES)
def test_each_row_is_normalised_over_its_features_alone(shape):
    layer = bound(LayerNorm(), shape)
    x = batch(shape)
    y = layer.forward(x)
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=-1), 1, rtol=1e-4)  # var / (var + eps)
    # a row's result does not depend on the other rows: one sample alone gives the same
    np.testing.assert_allclose(layer.forward(x[1:2].copy()), y[1:2], rtol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_gradients_match_finite_differences(shape):
    layer = bound(LayerNorm(), shape, rng=np.random.default_rng(1))  # gamma, beta random
    check_gradients(layer, batch(shape, seed=2))


@pytest.mark.parametrize("training", [False, True])
def test_scale_and_shift_are_learned_and_training_changes_nothing(training):
    layer = bound(LayerNorm(eps=1e-3), (6, 5), rng=np.random.default_rng(3))
    x = batch((6, 5), seed=4)
    x_hat = (x - x.mean(axis=-1, keepdims=True)) / np.sqrt(x.var(axis=-1, keepdims=True) + 1e-3)
    y = layer.forward(x, training=training)
    np.testing.assert_allclose(y, layer.gamma * x_hat + layer.beta, rtol=1e-12)
    assert layer.state_shapes() == {}  # nothing like batch norm's running statistics


def test_in_place_writes_over_x_and_keeps_its_gradient():
    layer = bound(LayerNorm(), (6, 5), rng=np.random.default_rng(5))
    x = batch((6, 5), seed=6)
    expected = layer.forward(x).copy()
    layer.in_place = True
    y = layer.forward(x)
    assert y is x or np.shares_memory(y, x)
    np.testing.assert_array_equal(y, expected)


def test_float32_stays_float32():
    layer = bound(LayerNorm(), (6, 5), np.float32)
    y = layer.forward(batch((6, 5)).astype(np.float32))
    assert y.dtype == np.float32 and layer.backward(np.ones_like(y)).dtype == np.float32


def test_bad_eps_is_named():
    with pytest.raises(LayerSpecError, match="eps=0"):
        LayerNorm(eps=0)
