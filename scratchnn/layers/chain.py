"""Layers in sequence inside a block: what a container layer (``residual``) runs on each path.

A ``Chain`` does for its layers what the network does for its own: it builds them one after the
other, plans which may work in place, hands each its views of the parameter, gradient and state
buffers, and runs forward in order and backward in reverse. It is not a layer itself: a container
layer holds one chain per path (a residual block: the body and, when the shapes differ, the
projection shortcut) and declares their parameters as its own under prefixed names (``"0.weights"``
for the body's first layer, ``"shortcut.0.weights"``), so the network's one flat buffer, the
optimiser, the weights file and the tracked parameters all see a nested layer's arrays by name.
"""

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from scratchnn.errors import LayerSpecError
from scratchnn.initializers import Initializer
from scratchnn.layers.base import Arrays, Layer, Rng, Shape


def plan_in_place(layers: Sequence[Layer]) -> None:
    """Let a layer work in place only if nobody needs its input afterwards: not when it is the
    chain's input (the caller's array, or a block's input that its shortcut still reads), nor
    when a layer's backward pass reads it as its output."""
    owner = -1  # the layer whose own buffer holds the activations; -1: the chain's input
    for i, layer in enumerate(layers):
        readers = layers[owner:i] if owner >= 0 else []
        layer.in_place = (
            layer.can_work_in_place
            and owner >= 0
            and not any(before.reads_output for before in readers)
        )
        if not (layer.in_place or layer.returns_view):
            owner = i


def first_trainable(layers: Sequence[Layer]) -> int | None:
    """The index of the first layer with parameters, or None: backward stops there when nobody
    needs the gradient with respect to the chain's input."""
    return next((i for i, layer in enumerate(layers) if layer.param_shapes()), None)


def backward_through(layers: Sequence[Layer], dy: np.ndarray, need_dx: bool) -> np.ndarray | None:
    """dL/dx of ``layers`` run in order, from dL/dy, filling their gradients. Without ``need_dx``
    the first layer with parameters is told so and the layers below it are skipped."""
    stop = 0 if need_dx else first_trainable(layers)
    if stop is None:  # no parameters here and no dx wanted: nothing to do
        return None
    for layer in reversed(layers[stop + 1 :]):
        dy = layer.backward(dy)
    if need_dx or not layers[stop].param_shapes():
        return layers[stop].backward(dy)
    return layers[stop].backward(dy, need_dx=False)  # type: ignore[call-arg]


def prefixed(prefix: str, shapes: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}{name}": value for name, value in shapes.items()}


def unprefixed(prefix: str, arrays: Arrays, names: Iterable[str]) -> Arrays:
    return {name: arrays[f"{prefix}{name}"] for name in names}


class Chain:
    """``layers`` applied in order to inputs of one shape; their arrays are named
    ``f"{prefix}{i}.{name}"`` (``"0.weights"``, ``"shortcut.1.gamma"``).

    The chain's input is never written over (its first layers do not work in place): the block
    around it may still read it, as a residual block's identity shortcut does.
    """

    def __init__(self, layers: Sequence[Layer], prefix: str = "") -> None:
        self.layers = list(layers)
        self.prefix = prefix

    def _prefix(self, i: int) -> str:
        return f"{self.prefix}{i}."

    def build(self, input_shape: Shape) -> Shape:
        """Build each layer in turn; a shape error names the layer (``layers[1]``, nested
        ``layers[1].layers[0]``) where it happened."""
        shape = input_shape
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.build(shape)
            except LayerSpecError as error:
                raise error.within(f"layers[{i}]") from None
        plan_in_place(self.layers)
        return shape

    def param_shapes(self) -> dict[str, Shape]:
        shapes: dict[str, Shape] = {}
        for i, layer in enumerate(self.layers):
            shapes |= prefixed(self._prefix(i), layer.param_shapes())
        return shapes

    def state_shapes(self) -> dict[str, Shape]:
        shapes: dict[str, Shape] = {}
        for i, layer in enumerate(self.layers):
            shapes |= prefixed(self._prefix(i), layer.state_shapes())
        return shapes

    def decayed_names(self) -> tuple[str, ...]:
        return tuple(
            f"{self._prefix(i)}{name}"
            for i, layer in enumerate(self.layers)
            for name in layer.decayed_names()
        )

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        """Give each layer its own views, taken from the container's by their prefixed names,
        and set the initial values it declares (batch norm's gamma = 1), as the network does."""
        for i, layer in enumerate(self.layers):
            prefix = self._prefix(i)
            names, state_names = layer.param_shapes(), layer.state_shapes()
            own_params = unprefixed(prefix, params, names)
            own_state = unprefixed(prefix, state, state_names)
            layer.bind(own_params, unprefixed(prefix, grads, names), own_state, dtype)
            for name, value in layer.initial_values.items():
                (own_params | own_state)[name][...] = value

    def initialize(self, initializer: Initializer, rng: np.random.Generator) -> None:
        for layer in self.layers:
            layer.initialize(initializer, rng)

    def work_per_row(self) -> int:
        return sum(layer.work_per_row() for layer in self.layers)

    def specs(self) -> list[dict[str, Any]]:
        return [layer.spec() for layer in self.layers]

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x, training, rng)
        return x

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        return backward_through(self.layers, dy, need_dx)
