"""Gradient clipping by global norm, as a training option (``fit(..., clip_norm=...)``)."""

import numpy as np
import pytest

from scratchnn import SGD, Adam, SoftmaxCrossEntropy, clip_by_global_norm, constant, fit, mlp

from .test_training import blobs


def test_clipping_scales_the_whole_gradient_to_the_norm_asked():
    grads = np.array([3.0, 0.0, 4.0])  # norm 5
    assert clip_by_global_norm(grads, 1.0) == 5.0
    np.testing.assert_allclose(grads, [0.6, 0.0, 0.8], rtol=1e-15)
    small = np.array([0.3, 0.4])  # norm 0.5: left alone
    assert clip_by_global_norm(small, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(small, [0.3, 0.4])


def full_batch_step(clip_norm: float | None) -> tuple[np.ndarray, np.ndarray]:
    """One full-batch SGD step at lr = 1 from the same start: (step taken, gradient)."""
    x, y = blobs(60)
    network = mlp([4, 6, 3], rng=np.random.default_rng(0), dtype=np.float64)
    start = network.params.copy()
    loss_fn = SoftmaxCrossEntropy(3, np.float64)
    loss_fn.forward(network.forward(x.astype(np.float64)), y)
    network.backward(loss_fn.backward())
    gradient = network.grads.copy()
    fit(network, SGD(), constant(1.0), x.astype(np.float64), y, epochs=1, batch_size=None,
        rng=np.random.default_rng(0), clip_norm=clip_norm)  # fmt: skip
    return start - network.params, gradient


def test_a_clipped_step_has_exactly_the_norm_asked_in_the_gradients_direction():
    step, gradient = full_batch_step(clip_norm=0.25)
    assert np.linalg.norm(gradient) > 0.25  # so that clipping has something to do
    assert np.linalg.norm(step) == pytest.approx(0.25, rel=1e-12)
    np.testing.assert_allclose(step, gradient * 0.25 / np.linalg.norm(gradient), rtol=1e-12)


def train(**options) -> np.ndarray:
    x, y = blobs()
    network = mlp([4, 8, 3], rng=np.random.default_rng(3))
    fit(network, Adam(), constant(0.01), x, y, epochs=2, batch_size=16,
        rng=np.random.default_rng(4), **options)  # fmt: skip
    return network.params.copy()


def test_none_and_a_norm_never_reached_change_nothing_bit_for_bit():
    plain = train()
    np.testing.assert_array_equal(train(clip_norm=None), plain)
    np.testing.assert_array_equal(train(clip_norm=1e6), plain)
    assert not np.array_equal(train(clip_norm=0.01), plain)


def test_a_norm_that_is_not_positive_is_refused():
    with pytest.raises(ValueError, match="clip_norm=0"):
        train(clip_norm=0)
