"""The layer contract: what every layer declares, and what the network does with it.

The network takes a layer through four steps:
 1. ``__init__(**settings)`` stores and checks the settings only (``Conv2D(filters=16, kernel=5)``);
    every setting is an attribute of the same name, so ``settings()`` can list them.
 2. ``build(input_shape) -> output_shape``: the shape of *one sample*, without the batch axis,
    e.g. ``(28, 28, 1) -> (28, 28, 16)``. Afterwards the layer knows its ``param_shapes()``
    (trainable: the optimiser moves them) and ``state_shapes()`` (not trained, but saved, such as
    batch norm's running statistics).
 3. ``bind(params, grads, state, dtype)``: dicts of views into the network's three flat buffers,
    one entry per name of ``param_shapes`` / ``state_shapes``. The layer owns no parameter
    memory, so an optimiser updates the whole network in a few whole-array passes.
 4. per batch, ``forward(x, training, rng) -> y`` and ``backward(dy) -> dx``, side by side in each
    layer's file. ``x`` is ``(batch, *input_shape)``, ``y`` is ``(batch, *output_shape)``;
    ``training`` switches dropout and batch statistics on, ``rng`` is what dropout draws from.
    ``backward`` may overwrite ``dy`` (the next layer's work array, not needed again). A layer
    with parameters fills its ``grads`` there and takes ``need_dx``: the network passes False
    to the first of them, whose dx (the gradient with respect to the pixels) nobody needs.

In place: a layer with ``can_work_in_place`` may write ``y`` over ``x``, saving a buffer; the
network switches that off (``in_place = False``) when ``x`` must survive: when it is the caller's
input, or when an earlier layer's backward pass reads it (``reads_output``).

Weight decay (``AdamW``) shrinks only the parameters ``decayed_names()`` lists: by default the
``weight_names`` (the weights of dense and convolution layers), never biases nor a normalisation's
scale and shift. The network turns those names into one mask over its flat buffer, once.

Containers: a layer may hold other layers, as a residual block does (``residual.py``:
``{"type": "residual", "layers": [...]}``, ``y = body(x) + shortcut(x)``). A container takes
them as a constructor argument annotated ``list[Layer]``: the builder builds that list from the
nested specs, checking every key and naming it (``layers[3].layers[1].filters=0 is not
allowed``), and ``settings()`` writes it back as specs, so the architecture JSON nests. Inside,
a ``chain.Chain`` per path does the network's work for its layers: ``build`` (shape errors
located with ``LayerSpecError.within``), the in-place plan (the chain never writes over its
input, which the block may still read), ``bind`` (the container declares its layers' params and
state as its own under prefixed names, ``"0.weights"``, ``"shortcut.1.gamma"``, and hands each
layer its views of them), ``initialize``, ``forward``, and ``backward`` (``need_dx`` passed on).
A pre-norm transformer block is two residual blocks: ``[layernorm, attention]`` then
``[layernorm, dense, gelu, dense]``; a new container is a class with one chain per path.
"""

import inspect
import math
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import numpy as np

from scratchnn.buffers import RowBuffer
from scratchnn.errors import LayerSpecError
from scratchnn.initializers import Initializer

Shape = tuple[int, ...]  # one sample's shape, without the batch axis: (784,), (28, 28, 1)
Arrays = dict[str, np.ndarray]  # a layer's views into a flat buffer, by name
Rng = np.random.Generator | None  # what forward draws from (dropout), passed down by fit


def require(condition: bool, key: str, value: Any, reason: str) -> None:
    """Raise ``LayerSpecError`` for setting ``key=value`` unless ``condition`` holds."""
    if not condition:
        raise LayerSpecError(reason, key, value)


class Layer:
    """The base of every layer; see the module's docstring for the contract."""

    type_name: ClassVar[str] = ""  # the registry's name for the layer, set by @register
    can_work_in_place: ClassVar[bool] = False  # forward may write y over x
    reads_output: ClassVar[bool] = False  # backward reads forward's y: nobody may overwrite it
    returns_view: ClassVar[bool] = False  # y is a view of x (it never writes at all)
    weight_names: ClassVar[tuple[str, ...]] = ()  # params drawn from the initializer
    initial_values: ClassVar[dict[str, float]] = {}  # other params and state; the rest start at 0

    in_place: bool = False  # decided by the network: can_work_in_place, if x may be overwritten
    input_shape: Shape = ()
    output_shape: Shape = ()

    def settings(self) -> dict[str, Any]:
        """The constructor's arguments as JSON-able values: ``{"filters": 16, "kernel": 5}``;
        a container's list of layers as their specs."""
        names = list(inspect.signature(type(self).__init__).parameters)[1:]
        return {name: _jsonable(getattr(self, name)) for name in names}

    def spec(self) -> dict[str, Any]:
        """What the builder builds this layer from: ``{"type": "conv2d", "filters": 16, ...}``."""
        return {"type": self.type_name, **self.settings()}

    def build(self, input_shape: Shape) -> Shape:
        """Fix the shapes for inputs of ``input_shape`` (one sample); return the output's shape."""
        self.input_shape = tuple(input_shape)
        self.output_shape = self.output_shape_for(self.input_shape)
        return self.output_shape

    def output_shape_for(self, input_shape: Shape) -> Shape:
        """The output shape for ``input_shape``; raise ``LayerSpecError`` if they do not fit."""
        return input_shape

    def param_shapes(self) -> dict[str, Shape]:
        return {}

    def state_shapes(self) -> dict[str, Shape]:
        return {}

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        """Keep the views into the network's buffers and allocate the reused work arrays."""
        self.params, self.grads, self.state, self.dtype = params, grads, state, dtype
        self._y = RowBuffer(self.output_shape, dtype)

    def decayed_names(self) -> tuple[str, ...]:
        """The params weight decay shrinks: the weights, not biases or scales and shifts."""
        return self.weight_names

    def initialize(self, initializer: Initializer, rng: np.random.Generator) -> None:
        """Draw the weights (``weight_names``) from ``initializer``, in the order declared."""
        for name in self.weight_names:
            self.params[name][...] = initializer(self.params[name].shape, rng)

    def work_per_row(self) -> int:
        """How many values this layer's work arrays hold per sample: the network bounds memory
        by splitting large evaluation batches with it."""
        return 2 * math.prod(self.output_shape)  # y and dx

    def output(self, x: np.ndarray) -> np.ndarray:
        """Where ``forward`` writes ``y``: over ``x`` when in place, else a reused buffer."""
        return x if self.in_place else self._y.take(len(x))

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dL/dx from dL/dy. Layers with parameters also take ``need_dx`` and fill ``grads``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        settings = ", ".join(f"{key}={value!r}" for key, value in self.settings().items())
        return f"{type(self).__name__}({settings})"


def _jsonable(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(item, Layer) for item in value):
        return [item.spec() for item in value]
    return value


LAYER_TYPES: dict[str, type[Layer]] = {}
LayerClass = TypeVar("LayerClass", bound=type[Layer])


def register(type_name: str) -> Callable[[LayerClass], LayerClass]:
    """Class decorator: make the layer buildable by name, ``{"type": type_name, ...}``."""

    def add(cls: LayerClass) -> LayerClass:
        if type_name in LAYER_TYPES:
            raise ValueError(f"layer type {type_name!r} is registered twice")
        cls.type_name = type_name
        LAYER_TYPES[type_name] = cls
        return cls

    return add
