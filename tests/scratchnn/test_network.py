import numpy as np

from scratchnn import SoftmaxCrossEntropy, build_network, mlp, scaled_normal

from .gradcheck import assert_close, numerical_gradient
from .helpers import check_network_gradients


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


def small_cnn(seed: int = 0):
    return build_network(
        [
            {"type": "conv2d", "filters": 3, "kernel": 3, "stride": 1, "padding": 1},
            {"type": "relu"},
            {"type": "maxpool2d", "pool": 2},
            {"type": "conv2d", "filters": 4, "kernel": 2, "stride": 2, "padding": 1},
            {"type": "batchnorm"},
            {"type": "leaky_relu", "slope": 0.1},
            {"type": "avgpool2d", "pool": 2, "stride": 1},
            {"type": "flatten"},
            {"type": "dropout", "rate": 0.3},
            {"type": "dense", "units": 5},
            {"type": "gelu"},
            {"type": "dense", "units": 3},
        ],
        input_shape=(6, 6, 2),
        rng=np.random.default_rng(seed),
        dtype=np.float64,
    )


def test_whole_cnn_gradient_matches_finite_differences():
    """Loss -> params through every kind of layer, batch norm in training mode and dropout with
    the same mask at every forward pass (its generator re-seeded)."""
    network = small_cnn()
    rng = np.random.default_rng(1)
    network.params += 0.1 * rng.standard_normal(network.params.size)  # nonzero biases, betas
    x = rng.standard_normal((4, 6 * 6 * 2))  # flat rows, as the pipeline gives them
    check_network_gradients(network, x, rng.integers(0, 3, size=4), training=True)


def test_evaluation_of_a_large_batch_goes_in_chunks_with_the_same_result():
    network = small_cnn()
    x = np.random.default_rng(3).standard_normal((50, 72))
    one_pass = network.forward(x).copy()
    network.max_eval_rows = 7
    chunked = network.forward(x)
    np.testing.assert_allclose(chunked, one_pass, rtol=1e-12)
    np.testing.assert_array_equal(network.predict(x, chunk_size=16), np.argmax(one_pass, axis=1))


def test_backward_stops_at_the_first_layer_with_parameters():
    network = build_network(
        [{"type": "flatten"}, {"type": "dense", "units": 3}],
        input_shape=(2, 2, 1),
        rng=np.random.default_rng(0),
    )
    network.forward(np.ones((2, 4), np.float32), training=True)
    network.backward(np.ones((2, 3), np.float32))  # the flatten's backward is never called
    np.testing.assert_array_equal(network.layers[1].dW, np.full((4, 3), 2.0))
