"""A network: layers in sequence, whose parameters live in one flat buffer."""

import itertools
from collections.abc import Sequence

import numpy as np

from scratchnn.initializers import Initializer, he_normal
from scratchnn.layers import Dense, ReLU

Layer = Dense | ReLU


class Network:
    """Layers applied in order; the output is logits (batch, n_classes).

    All parameters sit in ``params`` (one contiguous 1-D array) and all gradients in ``grads``,
    each Dense layer viewing its own slice. An optimiser then updates the whole network with a
    few passes over one array instead of a loop over small ones.
    """

    def __init__(self, layers: Sequence[Layer], dtype: np.dtype | type = np.float32) -> None:
        self.layers = list(layers)
        self.dtype = np.dtype(dtype)
        self.dense_layers = [layer for layer in self.layers if isinstance(layer, Dense)]
        if not self.dense_layers:
            raise ValueError("a network needs at least one Dense layer")
        sizes = [layer.n_params for layer in self.dense_layers]
        self.params = np.zeros(sum(sizes), dtype=self.dtype)
        self.grads = np.zeros(sum(sizes), dtype=self.dtype)
        offsets = np.cumsum([0, *sizes])
        for layer, start, stop in zip(self.dense_layers, offsets[:-1], offsets[1:], strict=True):
            layer.bind(self.params[start:stop], self.grads[start:stop])

    @property
    def layer_sizes(self) -> list[int]:
        """``[n_in, hidden..., n_out]``, e.g. ``[784, 128, 64, 10]``."""
        return [self.dense_layers[0].n_in, *(layer.n_out for layer in self.dense_layers)]

    def forward(self, x: np.ndarray) -> np.ndarray:
        # x: (batch, n_in) -> logits: (batch, n_out)
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dlogits: np.ndarray) -> None:
        """Fill ``grads`` from dL/dlogits (batch, n_out), going through the layers in reverse."""
        dy = dlogits
        first = self.layers[0]
        for layer in reversed(self.layers[1:]):
            dy = layer.backward(dy)
        if isinstance(first, Dense):
            first.backward(dy, need_dx=False)
        else:
            first.backward(dy)

    def predict(self, x: np.ndarray, chunk_size: int = 8192) -> np.ndarray:
        """Predicted class of each row of ``x`` (batch, n_in) -> (batch,) int64."""
        predicted = np.empty(len(x), dtype=np.int64)
        for start in range(0, len(x), chunk_size):
            logits = self.forward(x[start : start + chunk_size])
            predicted[start : start + chunk_size] = np.argmax(logits, axis=1)
        return predicted


def mlp(
    layer_sizes: Sequence[int],
    *,
    rng: np.random.Generator,
    initializer: Initializer = he_normal,
    dtype: np.dtype | type = np.float32,
) -> Network:
    """Dense -> ReLU -> ... -> Dense, e.g. ``layer_sizes=[784, 128, 64, 10]``.

    Weights come from ``initializer`` drawn with ``rng`` layer by layer; biases start at zero.
    """
    if len(layer_sizes) < 2:
        raise ValueError(f"layer_sizes needs an input and an output size, got {list(layer_sizes)}")
    layers: list[Layer] = []
    for n_in, n_out in itertools.pairwise(layer_sizes):
        layers += [Dense(n_in, n_out), ReLU()]
    network = Network(layers[:-1], dtype=dtype)  # no ReLU after the last layer: it gives logits
    for layer in network.dense_layers:
        layer.W[...] = initializer((layer.n_in, layer.n_out), rng)
    return network
