"""Networks from plain descriptions: a list of dicts, or the MLP shorthand ``mlp``.

    build_network(
        [{"type": "conv2d", "filters": 16, "kernel": 5, "padding": 2}, {"type": "relu"},
         {"type": "maxpool2d", "pool": 2}, {"type": "flatten"}, {"type": "dense", "units": 10}],
        input_shape=(28, 28, 1), rng=np.random.default_rng(0),
    )

Each dict has a ``type`` (a name in ``LAYER_TYPES``) and the settings of that layer's class
(its constructor's arguments). Every key, type and value is checked, and an error names the
layer and the key: ``layers[2].kernel=0 is not allowed: a kernel needs at least 1x1 pixels``.
A container's layers nest (``{"type": "residual", "layers": [...]}``) and are checked alike:
``layers[3].layers[1].filters=0 is not allowed: ...``.
"""

import inspect
import numbers
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from scratchnn.initializers import INITIALIZERS, Initializer, he_normal
from scratchnn.layers import LAYER_TYPES, Layer, LayerSpecError, Shape
from scratchnn.network import Network

ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "gelu")  # for mlp(activation=...)
_KINDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _fits(value: Any, annotation: Any) -> bool:
    """Has ``value`` the type an annotation asks for (``int``, ``float | None``, ...)?"""
    options = annotation.__args__ if isinstance(annotation, types.UnionType) else (annotation,)
    for option in options:
        if option is type(None) and value is None:
            return True
        if option is bool and isinstance(value, bool):
            return True
        if isinstance(value, bool):  # True is an int to Python, never to a layer setting
            continue
        if option is int and isinstance(value, numbers.Integral):
            return True
        if option is float and isinstance(value, numbers.Real):
            return True
        if option is str and isinstance(value, str):
            return True
    return False


def _is_layer_list(annotation: Any) -> bool:
    """Is this a container's setting, ``list[Layer]``, given as a list of nested specs?"""
    return typing.get_origin(annotation) is list and typing.get_args(annotation) == (Layer,)


def _kind(annotation: Any) -> str:
    options = annotation.__args__ if isinstance(annotation, types.UnionType) else (annotation,)
    return " or ".join("null" if o is type(None) else _KINDS.get(o, str(o)) for o in options)


def layer_from_spec(spec: Mapping[str, Any], where: str = "layer") -> Layer:
    """One layer from ``{"type": ..., **settings}``; errors start with ``where``."""
    if not isinstance(spec, Mapping):
        raise LayerSpecError(f"a layer is a mapping with a 'type' key, got {spec!r}", where=where)
    names = ", ".join(LAYER_TYPES)
    if "type" not in spec:
        raise LayerSpecError(f"type is missing: one of {names}", where=where)
    type_name = spec["type"]
    if type_name not in LAYER_TYPES:
        raise LayerSpecError(f"the layer types are {names}", "type", type_name, where)
    cls = LAYER_TYPES[type_name]
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    allowed = {p.name: p for p in parameters}
    settings = {key: value for key, value in spec.items() if key != "type"}
    for key, value in settings.items():
        if key not in allowed:
            known = ", ".join(allowed) or "none"
            raise LayerSpecError(
                f"{key} is not a setting of {type_name} (its settings: {known})", where=where
            )
        if _is_layer_list(allowed[key].annotation):
            settings[key] = layers_from_specs(value, f"{where}.{key}")
        elif not _fits(value, allowed[key].annotation):
            raise LayerSpecError(f"it must be {_kind(allowed[key].annotation)}", key, value, where)
    for name, parameter in allowed.items():
        if parameter.default is inspect.Parameter.empty and name not in settings:
            raise LayerSpecError(f"{name} is missing: {type_name} needs it", where=where)
    try:
        return cls(**settings)
    except LayerSpecError as error:
        raise error.at(where) from None


def layers_from_specs(specs: Sequence[Mapping[str, Any]], name: str = "layers") -> list[Layer]:
    """The layers of ``specs``; errors name ``{name}[i]``."""
    if isinstance(specs, str | bytes) or not isinstance(specs, Sequence):
        raise LayerSpecError(f"a list of layers is expected, got {specs!r}", where=name)
    if not specs:
        raise LayerSpecError("the list of layers is empty", where=name)
    return [layer_from_spec(spec, f"{name}[{i}]") for i, spec in enumerate(specs)]


def network_from_layers(
    layers: list[Layer], input_shape: Sequence[int], dtype: np.dtype | type, name: str = "layers"
) -> Network:
    """``Network(layers, ...)``, with shape errors named ``{name}[i]`` instead of ``layers[i]``."""
    try:
        return Network(layers, input_shape, dtype)
    except LayerSpecError as error:
        raise error.at(error.where.replace("layers", name, 1)) from None


def check_layers(
    specs: Sequence[Mapping[str, Any]], input_shape: Sequence[int], *, name: str = "layers"
) -> list[Shape]:
    """Check ``specs`` for inputs of ``input_shape`` without allocating anything; return each
    layer's output shape. Raises ``LayerSpecError`` naming ``{name}[i]`` and the key."""
    shape: Shape = tuple(input_shape)
    shapes = []
    for i, layer in enumerate(layers_from_specs(specs, name)):
        try:
            shape = layer.build(shape)
        except LayerSpecError as error:
            raise error.within(f"{name}[{i}]") from None
        shapes.append(shape)
    return shapes


def build_network(
    specs: Sequence[Mapping[str, Any]],
    input_shape: Sequence[int],
    *,
    rng: np.random.Generator,
    dtype: np.dtype | type = np.float32,
    initializer: Initializer | str = he_normal,
    name: str = "layers",
) -> Network:
    """A network from a list of layer dicts (see the module's docstring), its weights drawn from
    ``initializer`` (a function or a name in ``INITIALIZERS``) with ``rng``, layer by layer.
    ``name`` is how errors call the list (``model.layers`` for a config file)."""
    if isinstance(initializer, str):
        if initializer not in INITIALIZERS:
            raise LayerSpecError(f"one of {', '.join(INITIALIZERS)}", "initializer", initializer)
        initializer = INITIALIZERS[initializer]
    network = network_from_layers(layers_from_specs(specs, name), input_shape, dtype, name)
    network.initialize(initializer, rng)
    return network


def mlp(
    layer_sizes: Sequence[int],
    *,
    rng: np.random.Generator,
    initializer: Initializer = he_normal,
    dtype: np.dtype | type = np.float32,
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> Network:
    """Dense -> ReLU -> ... -> Dense, e.g. ``layer_sizes=[784, 128, 64, 10]``.

    Each hidden layer is dense -> [batchnorm] -> activation -> [dropout of rate ``dropout``];
    the last dense layer gives the logits. Weights come from ``initializer`` drawn with ``rng``
    layer by layer; biases start at zero.
    """
    if len(layer_sizes) < 2:
        raise ValueError(f"layer_sizes needs an input and an output size, got {list(layer_sizes)}")
    if activation not in ACTIVATIONS:
        raise LayerSpecError(f"one of {', '.join(ACTIVATIONS)}", "activation", activation)
    specs: list[dict[str, Any]] = []
    for n_out in layer_sizes[1:-1]:
        specs.append({"type": "dense", "units": n_out})
        specs += [{"type": "batchnorm"}] if batch_norm else []
        specs.append({"type": activation})
        specs += [{"type": "dropout", "rate": dropout}] if dropout else []
    specs.append({"type": "dense", "units": layer_sizes[-1]})
    layers = layers_from_specs(specs)
    network = Network(layers, (layer_sizes[0],), dtype)
    network.initialize(initializer, rng)
    return network
