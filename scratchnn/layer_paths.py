"""Every layer of a network by a name a person reads: ``3_dense``, and inside a container
(a residual block) ``3_residual.0_conv2d`` or ``3_residual.shortcut.0_conv2d``.

Tools that look inside a network (the gradient check, the per-layer dynamics) walk this list;
it finds nested layers through the contract alone: a container holds its layers in a list of
``Layer`` (its constructor's ``layers``) or in objects with such a list (a chain per path).
"""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from scratchnn.layers.base import Layer

Watcher = Callable[[str, Layer, np.ndarray, np.ndarray], None]  # (name, layer, x, y)


def layer_name(index: int, layer: Layer) -> str:
    return f"{index}_{layer.type_name}"


def _nested(layer: Layer) -> Iterator[tuple[str, Sequence[Layer]]]:
    """The lists of layers a container holds, each with the prefix its arrays are named by."""
    for value in vars(layer).values():
        inner = getattr(value, "layers", value)  # a chain of layers, or the list itself
        if isinstance(inner, list) and inner and all(isinstance(x, Layer) for x in inner):
            yield str(getattr(value, "prefix", "")), inner


def named_layers(layers: Sequence[Layer], parent: str = "") -> list[tuple[str, Layer]]:
    """``(name, layer)`` for every layer, depth first, each container before its own layers."""
    named: list[tuple[str, Layer]] = []
    for i, layer in enumerate(layers):
        name = f"{parent}{layer_name(i, layer)}"
        named.append((name, layer))
        seen: set[int] = set()  # a container may hold the same layers twice (list and chain)
        for prefix, inner in _nested(layer):
            if id(inner[0]) not in seen:
                seen.update(id(x) for x in inner)
                named += named_layers(inner, f"{name}.{prefix}")
    return named


@contextmanager
def watching(layers: Sequence[Layer], watcher: Watcher) -> Iterator[None]:
    """While open, every forward pass of every layer (nested ones too) calls
    ``watcher(name, layer, x, y)`` before returning ``y``; ``x`` may already be overwritten when
    the layer works in place. The layers are left as they were afterwards."""
    named = named_layers(layers)
    for name, layer in named:

        def watched(x, training=False, rng=None, _name=name, _layer=layer, _forward=layer.forward):
            kept = x.copy() if _layer.in_place else x
            y = _forward(x, training, rng)
            watcher(_name, _layer, kept, y)
            return y

        layer.forward = watched  # type: ignore[method-assign]
    try:
        yield
    finally:
        for _, layer in named:
            del layer.forward
