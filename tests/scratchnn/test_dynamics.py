"""Per-layer dynamics: each statistic against a value worked out by hand, and training's weights
unchanged, bit for bit, while it watches."""

import numpy as np
import pytest

import scratchnn as sn
from scratchnn.dynamics import LayerDynamics


def data(n: int = 96) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((n, 12)), np.arange(n) % 3


def test_dead_and_saturated_units_and_batch_norm_state_are_counted():
    network = sn.build_network(
        [
            {"type": "dense", "units": 4},
            {"type": "relu"},
            {"type": "dense", "units": 5},
            {"type": "batchnorm"},
            {"type": "sigmoid"},
            {"type": "dense", "units": 3},
        ],
        (12,),
        rng=np.random.default_rng(1),
        dtype=np.float64,
    )
    first, second = network.layers[0], network.layers[2]
    first.params["weights"][...] = np.abs(first.params["weights"])  # inputs in [0, 1): x @ W >= 0
    first.params["biases"][0, :2] = -100.0  # two of four units never fire
    network.layers[3].state["running_mean"][...] = [1, 2, 3, 4, 5]
    network.layers[3].params["gamma"][...] = [100, 100, 0, 0, 0]  # two saturate, three sit at 0.5
    second.params["biases"][...] = 1.0
    x, _ = data()
    stats = LayerDynamics(network, x).epoch_end()
    assert stats["layers/1_relu/dead_fraction"] == 0.5
    assert stats["layers/3_batchnorm/running_mean"] == 3.0
    assert stats["layers/3_batchnorm/running_var"] == 1.0  # its initial value
    saturated = stats["layers/4_sigmoid/saturated_fraction"]
    assert 0.3 < saturated <= 0.4  # two of five units, except where batch norm's output is ~0
    assert stats["layers/0_dense/weight_norm"] == pytest.approx(np.linalg.norm(network.params[:52]))
    assert next(iter(stats)).startswith("layers/0_dense/")  # in the network's order


def test_gradient_norm_and_update_ratio_of_a_plain_sgd_step():
    """With SGD, Δθ = -lr g, so |Δθ|/|θ| = lr |g| / |θ| exactly, on the one sampled step."""
    network = sn.mlp([12, 6, 3], rng=np.random.default_rng(1), dtype=np.float64)
    x, y = data(8)
    dynamics = LayerDynamics(network, x)
    before = network.params.copy()
    sn.fit(
        network, sn.SGD(), sn.constant(0.1), x, y, epochs=1, batch_size=None,
        rng=np.random.default_rng(2), on_batch_end=dynamics.on_batch_end,
    )  # fmt: skip
    stats = dynamics.epoch_end()
    g = (before - network.params) / 0.1
    assert stats["layers/0_dense/grad_norm"] == pytest.approx(np.linalg.norm(g[:78]))
    expected = np.linalg.norm(before[:78] - network.params[:78]) / np.linalg.norm(before[:78])
    assert stats["layers/0_dense/update_ratio"] == pytest.approx(expected)
    assert stats["layers/2_dense/update_ratio"] == pytest.approx(
        0.1 * np.linalg.norm(g[78:]) / np.linalg.norm(before[78:])
    )


def train(watch: bool) -> np.ndarray:
    network = sn.mlp(
        [12, 16, 3], rng=np.random.default_rng(1), dropout=0.2, batch_norm=True, dtype=np.float32
    )
    x, y = data(400)
    x = x.astype(np.float32)
    dynamics = LayerDynamics(network, x[:64]) if watch else None
    sn.fit(
        network, sn.Adam(), sn.constant(1e-2), x, y, epochs=3, batch_size=16,
        rng=np.random.default_rng(2), validation=(x[:50], y[:50]),
        on_batch_end=dynamics.on_batch_end if dynamics else None,
        on_epoch_end=(lambda _: dynamics.epoch_end()) if dynamics else None,
    )  # fmt: skip
    return np.concatenate([network.params, network.state])


def test_watching_leaves_the_weights_bit_identical():
    np.testing.assert_array_equal(train(watch=True), train(watch=False))


def test_attention_entropy_is_ln_t_when_every_token_attends_evenly():
    network = sn.build_network(
        [
            {"type": "patch_embed", "patch": 3, "dim": 4},
            {"type": "attention", "heads": 2},
            {"type": "token_pool", "mode": "mean"},
            {"type": "dense", "units": 3},
        ],
        (6, 6, 1),
        rng=np.random.default_rng(0),
        dtype=np.float64,
    )
    x = np.random.default_rng(1).random((5, 36))
    attention = network.layers[1]
    attention.params["qkv_weights"][:, :8] = 0.0  # q = k = bias = 0: every score equal
    attention.params["qkv_biases"][...] = 0.0
    stats = LayerDynamics(network, x).epoch_end()
    assert stats["layers/1_attention/attention_entropy"] == pytest.approx(np.log(4))
