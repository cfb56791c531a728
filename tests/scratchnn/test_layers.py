import numpy as np

from scratchnn import Dense, Network, ReLU

from .gradcheck import assert_close, numerical_gradient


def dense_network(rng: np.random.Generator) -> tuple[Network, Dense]:
    network = Network([Dense(5, 3)], dtype=np.float64)
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


def test_dense_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    network, dense = dense_network(rng)
    x = rng.standard_normal((4, 5))
    upstream = rng.standard_normal((4, 3))  # dL/dy for L = sum(y * upstream)

    def loss() -> float:
        return float(np.sum(dense.forward(x) * upstream))

    dense.forward(x)
    dx = dense.backward(upstream.copy()).copy()
    assert_close(dense.dW, numerical_gradient(loss, dense.W))
    assert_close(dense.db, numerical_gradient(loss, dense.b))
    assert_close(dx, numerical_gradient(loss, x))
    # dW and db are views into the network's flat gradient buffer
    assert np.shares_memory(dense.dW, network.grads)


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
    upstream = rng.standard_normal((6, 4))
    relu = ReLU()

    def loss() -> float:
        return float(np.sum(ReLU().forward(x.copy()) * upstream))

    relu.forward(x.copy())
    dx = relu.backward(upstream.copy())
    assert_close(dx, numerical_gradient(loss, x))


def test_relu_forward_value():
    y = ReLU().forward(np.array([[-2.0, 0.0, 3.0]]))
    np.testing.assert_array_equal(y, [[0.0, 0.0, 3.0]])


def test_smaller_batch_after_larger_reuses_buffers_correctly():
    rng = np.random.default_rng(4)
    _, dense = dense_network(rng)
    big, small = rng.standard_normal((8, 5)), rng.standard_normal((3, 5))
    dense.forward(big)
    np.testing.assert_allclose(dense.forward(small), small @ dense.W + dense.b)
