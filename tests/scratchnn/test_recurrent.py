"""LSTM and GRU: against a per-step loop, against finite differences (long-ish sequences), and
inside whole networks."""

import numpy as np
import pytest

from scratchnn import GRU, LSTM, LayerSpecError, build_network

from . import reference
from .helpers import (
    bound,
    check_gradients,
    check_network_gradients,
    check_skipping_dx_keeps_parameter_gradients,
    save_and_load,
)

CELLS = [(LSTM, reference.lstm), (GRU, reference.gru)]
STEPS, FEATURES, UNITS = 7, 3, 4


def sequences(n: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, STEPS, FEATURES))


@pytest.mark.parametrize(("cell", "loop"), CELLS)
@pytest.mark.parametrize("return_sequences", [False, True])
def test_output_equals_the_per_step_loop(cell, loop, return_sequences):
    layer = bound(cell(UNITS, return_sequences), (STEPS, FEATURES), rng=np.random.default_rng(1))
    x = sequences()
    y = layer.forward(x)
    hs = loop(x, layer.W, layer.U, layer.b)  # (batch, T, H)
    expected = hs if return_sequences else hs[:, -1]
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("cell", "loop"), CELLS)
@pytest.mark.parametrize("return_sequences", [False, True])
def test_gradients_match_finite_differences(cell, loop, return_sequences):
    """Through all 7 steps, for the input and W, U, b (random: saturated and open gates)."""
    layer = bound(cell(UNITS, return_sequences), (STEPS, FEATURES), rng=np.random.default_rng(2))
    layer.flat_params *= 0.7
    check_gradients(layer, sequences(seed=3))


@pytest.mark.parametrize(("cell", "loop"), CELLS)
def test_first_layer_skips_dx_but_fills_the_same_parameter_gradients(cell, loop):
    layer = bound(cell(UNITS, True), (STEPS, FEATURES), rng=np.random.default_rng(4))
    check_skipping_dx_keeps_parameter_gradients(layer, sequences(seed=5))


@pytest.mark.parametrize(("cell", "loop"), CELLS)
def test_a_smaller_batch_after_a_larger_one_gives_its_own_result(cell, loop):
    layer = bound(cell(UNITS), (STEPS, FEATURES), rng=np.random.default_rng(7))
    big, small = sequences(6, seed=8), sequences(2, seed=9)
    layer.forward(big)
    expected = loop(small, layer.W, layer.U, layer.b)[:, -1]
    np.testing.assert_allclose(layer.forward(small), expected, rtol=1e-12)


@pytest.mark.parametrize(("cell", "loop"), CELLS)
def test_float32_stays_float32(cell, loop):
    layer = bound(cell(UNITS, True), (STEPS, FEATURES), np.float32, np.random.default_rng(10))
    y = layer.forward(sequences().astype(np.float32))
    assert y.dtype == np.float32 and layer.backward(np.ones_like(y)).dtype == np.float32


def lstm_network(seed: int = 0):
    """Two recurrent layers stacked (the first returns its sequence), then a classifier."""
    return build_network(
        [
            {"type": "lstm", "units": 5, "return_sequences": True},
            {"type": "gru", "units": 4},
            {"type": "dense", "units": 3},
        ],
        input_shape=(6, 4),
        rng=np.random.default_rng(seed),
        dtype=np.float64,
    )


def test_initial_weights_forget_gate_open_and_recurrent_blocks_orthogonal():
    network = lstm_network()
    lstm, gru = network.layers[0], network.layers[1]
    np.testing.assert_array_equal(lstm.b, np.repeat([0.0, 1.0, 0.0, 0.0], 5))
    assert not gru.b.any()
    for layer in (lstm, gru):
        h = layer.units
        for gate in range(layer.gates):
            block = layer.U[:, gate * h : (gate + 1) * h]
            np.testing.assert_allclose(block.T @ block, np.eye(h), atol=1e-12)


def test_weight_decay_shrinks_both_weight_matrices_not_the_biases():
    lstm = lstm_network().layers[0]
    assert lstm.decayed_names() == ("weights", "recurrent_weights")


def test_whole_stacked_network_gradient_matches_finite_differences():
    network = lstm_network()
    rng = np.random.default_rng(1)
    network.params += 0.1 * rng.standard_normal(network.params.size)
    x = rng.standard_normal((3, 24))  # flat rows, viewed as (6 steps, 4 features)
    check_network_gradients(network, x, labels=np.array([0, 2, 1]))


def test_save_and_load_gives_bit_identical_logits(tmp_path):
    network = lstm_network(seed=3)
    x = np.random.default_rng(4).standard_normal((5, 24))
    loaded = save_and_load(network, tmp_path)
    assert loaded.describe() == network.describe()
    np.testing.assert_array_equal(loaded.forward(x), network.forward(x))


@pytest.mark.parametrize(
    ("specs", "input_shape", "message"),
    [
        ([{"type": "lstm", "units": 0}], (6, 4), r"^layers\[0\]\.units=0 is not allowed"),
        (
            [{"type": "gru", "units": 4, "return_sequences": 1}],
            (6, 4),
            r"^layers\[0\]\.return_sequences=1 is not allowed: it must be true or false",
        ),
        ([{"type": "lstm", "units": 4}], (6, 4, 1), r"^layers\[0\]: lstm needs sequences"),
        (
            [{"type": "lstm", "units": 4, "return_sequences": True}],
            (6, 4),
            r"^layers\[0\]: the last layer gives \(6, 4\) per sample",
        ),
    ],
)
def test_errors_name_the_layer_and_the_key(specs, input_shape, message):
    with pytest.raises(LayerSpecError, match=message):
        build_network(specs, input_shape, rng=np.random.default_rng(0))
