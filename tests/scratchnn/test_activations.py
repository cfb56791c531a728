"""Every activation against its formula and against finite differences (float64)."""

import math

import numpy as np
import pytest

from scratchnn import GELU, LeakyReLU, ReLU, Sigmoid, Tanh, build_network

from .helpers import bound, check_gradients


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


FORMULAS = {
    "relu": (ReLU, lambda x: np.maximum(x, 0)),
    "leaky_relu": (lambda: LeakyReLU(0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    "sigmoid": (Sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "tanh": (Tanh, np.tanh),
    "gelu": (GELU, gelu_tanh),
}


def inputs(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    x = 2 * np.random.default_rng(seed).standard_normal(shape)
    x[np.abs(x) < 0.05] = 0.3  # off the kink of the rectifiers at 0
    return x


@pytest.mark.parametrize("name", list(FORMULAS))
@pytest.mark.parametrize("shape", [(5,), (3, 3, 2)])
def test_forward_is_the_formula_and_gradient_matches_finite_differences(name, shape):
    make, formula = FORMULAS[name]
    layer = bound(make(), shape)
    x = inputs((4, *shape))
    np.testing.assert_allclose(layer.forward(x.copy()), formula(x), rtol=1e-12, atol=1e-15)
    check_gradients(layer, x)


@pytest.mark.parametrize("name", list(FORMULAS))
def test_float32_stays_float32_and_close_to_float64(name):
    make, formula = FORMULAS[name]
    x = inputs((6, 4))
    y32 = bound(make(), (4,), np.float32).forward(x.astype(np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, formula(x), rtol=1e-5, atol=1e-6)


def test_sigmoid_does_not_overflow_for_large_inputs():
    x = np.array([[-1000.0, 0.0, 1000.0]], dtype=np.float32)
    with np.errstate(all="raise"):
        y = bound(Sigmoid(), (3,), np.float32).forward(x)
    np.testing.assert_array_equal(y, [[0.0, 0.5, 1.0]])


def test_leaky_relu_slope_is_configurable():
    layer = bound(LeakyReLU(slope=0.3), (2,))
    np.testing.assert_allclose(layer.forward(np.array([[-2.0, 2.0]])), [[-0.6, 2.0]])
    np.testing.assert_allclose(layer.backward(np.ones((1, 2))), [[0.3, 1.0]])


def test_network_runs_activations_in_place_only_where_it_is_safe():
    network = build_network(
        [
            {"type": "relu"},  # the caller's input: never overwritten
            {"type": "dense", "units": 4},
            {"type": "relu"},  # over the dense layer's output: fine
            {"type": "dense", "units": 4},
            {"type": "sigmoid"},  # in place, but its backward reads its output ...
            {"type": "dropout", "rate": 0.5},  # ... so this one must not overwrite it
            {"type": "gelu"},  # never in place: its backward reads its input
            {"type": "dense", "units": 3},
        ],
        input_shape=(4,),
        rng=np.random.default_rng(0),
        dtype=np.float64,
    )
    assert [layer.in_place for layer in network.layers] == [
        False,
        False,
        True,
        False,
        True,
        False,
        False,
        False,
    ]
    x = -np.ones((2, 4))
    network.forward(x, training=True, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(x, -np.ones((2, 4)))
