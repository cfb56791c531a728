import numpy as np

from scratchnn import SoftmaxCrossEntropy, mlp, scaled_normal

from .gradcheck import assert_close, numerical_gradient


def test_whole_network_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    network = mlp([6, 5, 4, 3], rng=rng, dtype=np.float64)
    network.params += 0.01 * rng.standard_normal(network.params.size)  # nonzero biases too
    x = rng.standard_normal((7, 6))
    labels = rng.integers(0, 3, size=7)
    loss_fn = SoftmaxCrossEntropy(3, np.float64)

    def loss() -> float:
        return loss_fn.forward(network.forward(x), labels)

    loss()
    network.backward(loss_fn.backward())
    analytic = network.grads.copy()
    assert_close(analytic, numerical_gradient(loss, network.params))


def test_layers_are_views_of_one_flat_buffer():
    network = mlp([784, 128, 64, 10], rng=np.random.default_rng(0))
    assert network.params.size == 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10
    assert network.params.dtype == np.float32
    for layer in network.dense_layers:
        assert np.shares_memory(layer.W, network.params)
        assert np.shares_memory(layer.dW, network.grads)
    assert network.layer_sizes == [784, 128, 64, 10]


def test_original_initialisation_is_scaled_normal_with_zero_biases():
    network = mlp(
        [784, 128, 64, 10],
        rng=np.random.default_rng(5),
        initializer=scaled_normal,
        dtype=np.float64,
    )
    expected = np.random.default_rng(5)
    for layer in network.dense_layers:
        np.testing.assert_array_equal(
            layer.W, 0.10 * expected.standard_normal((layer.n_in, layer.n_out))
        )
        assert not layer.b.any()


def test_predict_in_chunks_equals_one_pass():
    rng = np.random.default_rng(1)
    network = mlp([4, 8, 3], rng=rng, dtype=np.float64)
    x = rng.standard_normal((50, 4))
    one_pass = np.argmax(network.forward(x), axis=1)
    np.testing.assert_array_equal(network.predict(x, chunk_size=7), one_pass)
