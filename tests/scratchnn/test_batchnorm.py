import numpy as np
import pytest

from scratchnn import BatchNorm, LayerSpecError

from .helpers import bound, check_gradients

SHAPES = [(4,), (3, 3, 2)]  # dense (batch, n) and convolutional (batch, h, w, c) inputs


def batch(shape: tuple[int, ...], n: int = 5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 3 + 2 * rng.standard_normal((n, *shape))


@pytest.mark.parametrize("shape", SHAPES)
def test_training_normalises_each_feature_over_the_batch_and_positions(shape):
    layer = bound(BatchNorm(), shape)
    y = layer.forward(batch(shape), training=True)
    axes = tuple(range(y.ndim - 1))  # all but the feature (channel) axis
    np.testing.assert_allclose(y.mean(axis=axes), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=axes), 1, rtol=1e-4)  # var / (var + eps)


@pytest.mark.parametrize("shape", SHAPES)
def test_gradients_in_training_mode_match_finite_differences(shape):
    layer = bound(BatchNorm(), shape, rng=np.random.default_rng(1))  # gamma, beta random
    check_gradients(layer, batch(shape, seed=2), training=True)


@pytest.mark.parametrize("shape", SHAPES)
def test_running_statistics_follow_the_momentum_and_serve_evaluation(shape):
    layer = bound(BatchNorm(momentum=0.8), shape, rng=np.random.default_rng(3))
    x = batch(shape, seed=4)
    features = x.reshape(-1, shape[-1])
    layer.forward(x, training=True)
    mean, var = features.mean(axis=0), features.var(axis=0)  # the biased variance
    np.testing.assert_allclose(layer.running_mean, 0.2 * mean)  # from 0
    np.testing.assert_allclose(layer.running_var, 0.8 * 1 + 0.2 * var)  # from 1
    # evaluation uses them (not the batch's): y = gamma (x - rm) / sqrt(rv + eps) + beta
    y = layer.forward(x[:2], training=False)
    expected = layer.gamma * (x[:2] - layer.running_mean) / np.sqrt(layer.running_var + 1e-5)
    np.testing.assert_allclose(y, expected + layer.beta, rtol=1e-12)


def test_state_is_separate_from_the_parameters():
    layer = bound(BatchNorm(), (3,))
    assert layer.param_shapes() == {"gamma": (3,), "beta": (3,)}
    assert layer.state_shapes() == {"running_mean": (3,), "running_var": (3,)}
    assert np.shares_memory(layer.running_var, layer.flat_state)
    np.testing.assert_array_equal(layer.gamma, 1)  # the initial values
    np.testing.assert_array_equal(layer.running_var, 1)


def test_float32_stays_float32():
    layer = bound(BatchNorm(), (3, 3, 2), np.float32)
    y = layer.forward(batch((3, 3, 2)).astype(np.float32), training=True)
    assert y.dtype == np.float32 and layer.backward(np.ones_like(y)).dtype == np.float32


def test_backward_after_an_evaluation_pass_is_refused():
    layer = bound(BatchNorm(), (3,))
    layer.forward(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="training=True"):
        layer.backward(np.ones((2, 3)))


@pytest.mark.parametrize(
    ("settings", "key"), [({"momentum": 1.0}, "momentum"), ({"eps": 0}, "eps")]
)
def test_bad_settings_are_named(settings, key):
    with pytest.raises(LayerSpecError, match=f"{key}="):
        BatchNorm(**settings)
