"""Dense and ReLU, the layers of an MLP."""

import numpy as np

from scratchnn import Dense, Network, ReLU

from .helpers import bound, check_gradients


def dense_network(rng: np.random.Generator) -> tuple[Network, Dense]:
    network = Network([Dense(3)], input_shape=(5,), dtype=np.float64)
    network.params[...] = rng.standard_normal(network.params.size)
    return network, network.dense_layers[0]


def test_dense_shapes_and_forward_value():
    rng = np.random.default_rng(0)
    _, dense = dense_network(rng)
    x = rng.standard_normal((4, 5))
    y = dense.forward(x)
    assert y.shape == (4, 3)
    np.testing.assert_allclose(y, x @ dense.W + dense.b)
    assert dense.W.shape == (5, 3) and dense.b.shape == (1, 3)
    assert (dense.n_in, dense.n_out) == (5, 3)


def test_dense_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    dense = bound(Dense(3), (5,), rng=rng)
    check_gradients(dense, rng.standard_normal((4, 5)))
    network, dense = dense_network(rng)
    # dW and db are views into the network's flat gradient buffer, W then b as in the original
    assert np.shares_memory(dense.dW, network.grads) and np.shares_memory(dense.W, network.params)
    np.testing.assert_array_equal(network.params[:15], dense.W.reshape(-1))


def test_dense_without_input_gradient_still_fills_parameter_gradients():
    rng = np.random.default_rng(2)
    _, dense = dense_network(rng)
    x = rng.standard_normal((4, 5))
    dense.forward(x)
    assert dense.backward(np.ones((4, 3)), need_dx=False) is None
    np.testing.assert_allclose(dense.dW, x.T @ np.ones((4, 3)))
    np.testing.assert_allclose(dense.db, np.full((1, 3), 4.0))


def test_relu_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 4))
    x[np.abs(x) < 0.1] = 0.5  # stay off the kink at 0, where no derivative exists
    check_gradients(bound(ReLU(), (4,)), x)


def test_relu_forward_value_and_in_place():
    relu = bound(ReLU(), (3,))
    x = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(relu.forward(x), [[0.0, 0.0, 3.0]])
    assert x[0, 0] == -2.0  # not in place on its own: x is the caller's
    relu.in_place = True
    assert relu.forward(x) is x and x[0, 0] == 0.0


def test_smaller_batch_after_larger_reuses_buffers_correctly():
    rng = np.random.default_rng(4)
    _, dense = dense_network(rng)
    big, small = rng.standard_normal((8, 5)), rng.standard_normal((3, 5))
    y_big = dense.forward(big)
    y_small = dense.forward(small)
    np.testing.assert_allclose(y_small, small @ dense.W + dense.b)
    assert np.shares_memory(y_big, y_small)  # the same memory: no allocation per batch


def test_dense_over_tokens_maps_each_token_as_the_per_token_loop():
    rng = np.random.default_rng(5)
    dense = bound(Dense(3), (6, 5), rng=rng)
    x = rng.standard_normal((4, 6, 5))
    y = dense.forward(x)
    assert dense.output_shape == (6, 3) and y.shape == (4, 6, 3)
    for t in range(6):
        np.testing.assert_allclose(y[:, t], x[:, t] @ dense.W + dense.b, rtol=1e-12)


def test_dense_over_tokens_gradients_match_finite_differences():
    rng = np.random.default_rng(6)
    dense = bound(Dense(3), (6, 5), rng=rng)
    check_gradients(dense, rng.standard_normal((4, 6, 5)))
