"""A network: layers in sequence, whose parameters live in one flat buffer."""

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from scratchnn.initializers import Initializer
from scratchnn.layers import Dense, Layer, LayerSpecError, Shape
from scratchnn.layers.base import Arrays
from scratchnn.layers.chain import backward_through, first_trainable, plan_in_place

EVAL_BYTES = 2**27  # work memory an evaluation pass may use: larger inputs go in chunks


def carve(flat: np.ndarray, shapes: dict[str, Shape], start: int) -> tuple[Arrays, int]:
    """Views of ``flat[start:]``, one per ``name: shape``, back to back; and where they end."""
    views = {}
    for name, shape in shapes.items():
        size = math.prod(shape)
        views[name] = flat[start : start + size].reshape(shape)
        start += size
    return views, start


class Network:
    """Layers applied in order to inputs of ``input_shape``; the output is logits
    (batch, n_outputs).

    All trainable parameters sit in ``params`` (one contiguous 1-D array), their gradients in
    ``grads`` and the non-trainable state (batch norm's running statistics) in ``state``, each
    layer viewing its own slices. An optimiser then updates the whole network with a few passes
    over one array instead of a loop over small ones, and a checkpoint saves ``params`` and
    ``state``. The shapes are inferred layer by layer from ``input_shape`` (one sample's shape:
    ``(784,)``, or ``(28, 28, 1)`` for a convolutional network, which then views flat (batch, 784)
    rows as (batch, 28, 28, 1) images without copying).
    """

    def __init__(
        self,
        layers: Sequence[Layer],
        input_shape: Sequence[int],
        dtype: np.dtype | type = np.float32,
    ) -> None:
        self.layers = list(layers)
        self.dtype = np.dtype(dtype)
        self.input_shape: Shape = tuple(int(n) for n in input_shape)
        if not self.input_shape or min(self.input_shape) < 1:
            raise LayerSpecError(f"input_shape {self.input_shape} needs sizes of at least 1")
        shape = self.input_shape
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.build(shape)
            except LayerSpecError as error:
                raise error.within(f"layers[{i}]") from None
        if len(shape) != 1:
            raise LayerSpecError(
                f"the last layer gives {shape} per sample, not class scores (n_classes,): "
                "end with flatten and dense layers",
                where=f"layers[{len(self.layers) - 1}]",
            )
        if first_trainable(self.layers) is None:
            raise LayerSpecError("a network needs at least one layer with parameters (dense, ...)")
        plan_in_place(self.layers)
        n_params = sum(math.prod(s) for layer in self.layers for s in layer.param_shapes().values())
        n_state = sum(math.prod(s) for layer in self.layers for s in layer.state_shapes().values())
        self.params = np.zeros(n_params, dtype=self.dtype)
        self.grads = np.zeros(n_params, dtype=self.dtype)
        self.state = np.zeros(n_state, dtype=self.dtype)
        at_param = at_state = 0
        for layer in self.layers:
            params, _ = carve(self.params, layer.param_shapes(), at_param)
            grads, at_param = carve(self.grads, layer.param_shapes(), at_param)
            state, at_state = carve(self.state, layer.state_shapes(), at_state)
            layer.bind(params, grads, state, self.dtype)
            for name, value in layer.initial_values.items():
                {**params, **state}[name][...] = value
        work = sum(layer.work_per_row() for layer in self.layers) * self.dtype.itemsize
        self.max_eval_rows = max(1, EVAL_BYTES // max(work, 1))
        self.decay_mask = self._decay_mask()

    def _decay_mask(self) -> np.ndarray:
        """(n_params,) bool: True on the entries of ``params`` that weight decay shrinks (each
        layer's ``decayed_names()``: weights, not biases nor normalisation parameters)."""
        mask = np.zeros(self.params.size, dtype=bool)
        at = 0
        for layer in self.layers:
            decayed = layer.decayed_names()
            for name, shape in layer.param_shapes().items():
                mask[at : at + math.prod(shape)] = name in decayed
                at += math.prod(shape)
        return mask

    @property
    def n_outputs(self) -> int:
        """The number of classes: the size of the last layer's output."""
        return self.layers[-1].output_shape[0]

    @property
    def parameter_count(self) -> int:
        """Trainable parameters (the running statistics in ``state`` are not counted)."""
        return self.params.size

    @property
    def dense_layers(self) -> list[Dense]:
        return [layer for layer in self.layers if isinstance(layer, Dense)]

    @property
    def layer_sizes(self) -> list[int]:
        """``[n_in, hidden..., n_out]`` of an MLP, e.g. ``[784, 128, 64, 10]``. An MLP has flat
        inputs and dense layers, with only layers that keep the shape between them."""
        if len(self.input_shape) != 1:
            raise ValueError(
                f"layer_sizes is for MLPs: the input shape {self.input_shape} is not flat"
            )
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Dense) and layer.output_shape != layer.input_shape:
                raise ValueError(
                    f"layer_sizes is for MLPs: layers[{i}] ({layer.type_name}) maps "
                    f"{layer.input_shape} to {layer.output_shape}"
                )
            if not isinstance(layer, Dense) and layer.decayed_names():
                raise ValueError(
                    f"layer_sizes is for MLPs: layers[{i}] ({layer.type_name}) holds weights "
                    "of layers of its own"
                )
        return [self.input_shape[0], *(layer.n_out for layer in self.dense_layers)]

    def describe(self) -> dict[str, Any]:
        """The architecture as JSON-able values; ``build_network(d["layers"], d["input_shape"])``
        rebuilds it."""
        return {
            "input_shape": list(self.input_shape),
            "dtype": self.dtype.name,
            "layers": [layer.spec() for layer in self.layers],
            "output_shapes": [list(layer.output_shape) for layer in self.layers],
            "parameter_count": self.parameter_count,
            "state_count": self.state.size,
        }

    def initialize(self, initializer: Initializer, rng: np.random.Generator) -> None:
        """Draw every layer's weights from ``initializer``, layer by layer, in order."""
        for layer in self.layers:
            layer.initialize(initializer, rng)

    def forward(
        self, x: np.ndarray, training: bool = False, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """Logits (batch, n_outputs) of ``x``: (batch, *input_shape) or flat rows. ``training``
        selects the training behaviour (dropout, batch statistics), which draws from ``rng``.
        The result is a buffer the next call reuses (except for a large evaluation batch, which
        goes through in chunks into a new array). Inputs of another dtype are cast to the
        network's first (a copy): a float32 network computes in float32 whatever it is given,
        where NumPy would have computed float64 inputs in float64 and rounded each layer's
        result back to float32."""
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        if x.shape[1:] != self.input_shape:
            if math.prod(x.shape[1:]) != math.prod(self.input_shape):
                raise ValueError(f"inputs {x.shape[1:]} do not fit input_shape {self.input_shape}")
            x = x.reshape(len(x), *self.input_shape)  # flat rows as images: a view
        if not training and len(x) > self.max_eval_rows:
            logits = np.empty((len(x), self.n_outputs), dtype=self.dtype)
            for start in range(0, len(x), self.max_eval_rows):
                stop = start + self.max_eval_rows
                logits[start:stop] = self.forward(x[start:stop])
            return logits
        for layer in self.layers:
            x = layer.forward(x, training, rng)
        return x

    def backward(self, dlogits: np.ndarray) -> None:
        """Fill ``grads`` from dL/dlogits (batch, n_outputs), going through the layers in reverse,
        down to the first layer with parameters: nothing below it has a gradient to fill."""
        backward_through(self.layers, dlogits, need_dx=False)

    def predict(self, x: np.ndarray, chunk_size: int = 8192) -> np.ndarray:
        """Predicted class of each row of ``x`` (batch, n_in) -> (batch,) int64."""
        predicted = np.empty(len(x), dtype=np.int64)
        for start in range(0, len(x), chunk_size):
            logits = self.forward(x[start : start + chunk_size])
            predicted[start : start + chunk_size] = np.argmax(logits, axis=1)
        return predicted
