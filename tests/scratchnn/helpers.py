"""Layers outside a network, for unit tests: built for one input shape, bound to buffers of their
own, weights drawn like the network draws them."""

import numpy as np

from scratchnn.layers import Layer
from scratchnn.network import carve


def bound(
    layer: Layer,
    input_shape: tuple[int, ...],
    dtype: type = np.float64,
    rng: np.random.Generator | None = None,
) -> Layer:
    """``layer`` built for ``input_shape`` and bound to fresh buffers (params drawn N(0, 1) from
    ``rng`` when given, else the initial values), as ``Network`` does it."""
    layer.build(input_shape)
    shapes, state_shapes = layer.param_shapes(), layer.state_shapes()
    size = sum(int(np.prod(s)) for s in shapes.values())
    state_size = sum(int(np.prod(s)) for s in state_shapes.values())
    params, grads = np.zeros(size, dtype), np.zeros(size, dtype)
    state = np.zeros(state_size, dtype)
    layer.bind(
        carve(params, shapes, 0)[0],
        carve(grads, shapes, 0)[0],
        carve(state, state_shapes, 0)[0],
        np.dtype(dtype),
    )
    for name, value in layer.initial_values.items():
        (layer.params | layer.state)[name][...] = value
    if rng is not None:
        params[...] = rng.standard_normal(size)
    layer.flat_params, layer.flat_grads, layer.flat_state = params, grads, state
    return layer


def check_gradients(
    layer: Layer, x: np.ndarray, training: bool = False, seed: int | None = None, rtol: float = 1e-6
) -> np.ndarray:
    """Compare the layer's dx and parameter gradients with central differences of
    ``L = sum(forward(x) * upstream)`` (float64). ``seed`` re-seeds the generator passed to
    every forward (dropout: the same mask each time). Returns the analytic dx."""
    from .gradcheck import assert_close, numerical_gradient

    def rng() -> np.random.Generator | None:
        return None if seed is None else np.random.default_rng(seed)

    upstream = np.random.default_rng(99).standard_normal((len(x), *layer.output_shape))

    def loss() -> float:
        return float(np.sum(layer.forward(x, training, rng()) * upstream))

    layer.forward(x, training, rng())
    dx = layer.backward(upstream.copy()).copy()  # backward may overwrite dy: give it a copy
    analytic = layer.flat_grads.copy()
    assert_close(dx, numerical_gradient(loss, x), rtol)
    if analytic.size:
        assert_close(analytic, numerical_gradient(loss, layer.flat_params), rtol)
    return dx


def check_network_gradients(
    network, x: np.ndarray, labels: np.ndarray, training: bool = False, rtol: float = 1e-6
) -> None:
    """The whole network's parameter gradients (softmax cross-entropy loss) against central
    differences; dropout, if any, draws the same mask at every pass."""
    from scratchnn import SoftmaxCrossEntropy

    from .gradcheck import assert_close, numerical_gradient

    loss_fn = SoftmaxCrossEntropy(network.n_outputs, np.float64)

    def loss() -> float:
        logits = network.forward(x, training=training, rng=np.random.default_rng(2))
        return loss_fn.forward(logits, labels)

    loss()
    network.backward(loss_fn.backward())
    analytic = network.grads.copy()
    assert_close(analytic, numerical_gradient(loss, network.params), rtol)


def save_and_load(network, tmp_path):
    """``network`` written to a weights file and read back."""
    from scratchnn import load_weights, save_weights

    path = tmp_path / "weights.npz"
    save_weights(network, path)
    return load_weights(path)


def check_skipping_dx_keeps_parameter_gradients(layer: Layer, x: np.ndarray) -> None:
    """``backward(dy, need_dx=False)`` (the network's first layer with parameters) returns None
    and fills exactly the parameter gradients that ``need_dx=True`` fills."""
    dy = np.random.default_rng(98).standard_normal((len(x), *layer.output_shape))
    layer.forward(x)
    layer.backward(dy.copy())
    with_dx = layer.flat_grads.copy()
    layer.forward(x)
    assert layer.backward(dy.copy(), need_dx=False) is None  # type: ignore[call-arg]
    np.testing.assert_array_equal(layer.flat_grads, with_dx)
