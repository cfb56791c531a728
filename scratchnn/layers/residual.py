"""The residual block (He et al., 2016): ``y = f(x) + shortcut(x)``, a container of layers."""

import math

import numpy as np

from scratchnn.buffers import RowBuffer
from scratchnn.initializers import Initializer
from scratchnn.layers.base import Arrays, Layer, LayerSpecError, Rng, Shape, register, require
from scratchnn.layers.batchnorm import BatchNorm
from scratchnn.layers.chain import Chain
from scratchnn.layers.conv import Conv2D

SHORTCUTS = ("auto", "identity", "projection")


@register("residual")
class Residual(Layer):
    """``y = f(x) + shortcut(x)``, where ``f`` is ``layers`` applied in order (the body) and the
    shortcut is

    - ``identity``: ``x`` itself; ``f`` must keep the shape;
    - ``projection``: a 1x1 convolution with stride ``s``, then batch norm (as the ResNets of
      torchvision do it, "option B" of He et al.), mapping (h, w, c) images to ``f``'s output
      (h', w', c'), with ``s = ceil(h / h')``;
    - ``auto`` (the default): the identity when ``f`` keeps the shape, else the projection.

    The sum's gradient goes unchanged to both paths: ``dx = f'(x)^T dy + shortcut'(x)^T dy``.
    Every path may overwrite the dy it is given, so the body gets a copy. Its layers never
    write over ``x`` (the identity adds it afterwards); ``y`` is the block's own buffer, so the
    body's last output survives for its backward pass. Put the activation after the block,
    ``relu(f(x) + x)``, as the original ResNet does, as a layer of its own.

    Arrays: the body's as ``"{i}.{name}"`` (``"0.weights"``, ``"1.gamma"``), the projection's
    as ``"shortcut.0.weights"``, ``"shortcut.1.gamma"``, ...
    """

    def __init__(self, layers: list[Layer], shortcut: str = "auto") -> None:
        require(bool(layers), "layers", layers, "a residual block needs at least one layer")
        require(shortcut in SHORTCUTS, "shortcut", shortcut, f"one of {', '.join(SHORTCUTS)}")
        self.layers, self.shortcut = layers, shortcut
        self.body = Chain(layers)
        self.projection: Chain | None = None

    def output_shape_for(self, input_shape: Shape) -> Shape:
        body_shape = self.body.build(input_shape)
        self.projection = None
        if self.shortcut == "projection" or (self.shortcut == "auto" and body_shape != input_shape):
            self.projection = self._projection(input_shape, body_shape)
        elif body_shape != input_shape:
            raise LayerSpecError(
                f"the identity needs a body that keeps the shape {input_shape}, "
                f"but it gives {body_shape}: use shortcut: projection",
                "shortcut",
                self.shortcut,
            )
        return body_shape

    def _projection(self, input_shape: Shape, body_shape: Shape) -> Chain:
        """The 1x1 convolution with stride, then batch norm, that maps x to ``body_shape``."""
        if len(input_shape) != 3 or len(body_shape) != 3:
            raise LayerSpecError(
                f"a projection maps images (h, w, c), not {input_shape} to {body_shape}",
                "shortcut",
                self.shortcut,
            )
        stride = math.ceil(input_shape[0] / body_shape[0])
        conv = Conv2D(body_shape[2], kernel=1, stride=stride)
        projection = Chain([conv, BatchNorm()], prefix="shortcut.")
        if projection.build(input_shape) != body_shape:
            raise LayerSpecError(
                f"no 1x1 convolution with one stride maps {input_shape} to {body_shape}",
                "shortcut",
                self.shortcut,
            )
        return projection

    def _paths(self) -> list[Chain]:
        return [self.body] if self.projection is None else [self.body, self.projection]

    def param_shapes(self) -> dict[str, Shape]:
        return {name: s for path in self._paths() for name, s in path.param_shapes().items()}

    def state_shapes(self) -> dict[str, Shape]:
        return {name: s for path in self._paths() for name, s in path.state_shapes().items()}

    def decayed_names(self) -> tuple[str, ...]:
        return tuple(name for path in self._paths() for name in path.decayed_names())

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        for path in self._paths():
            path.bind(params, grads, state, dtype)
        self._dy_body = RowBuffer(self.output_shape, dtype)

    def initialize(self, initializer: Initializer, rng: np.random.Generator) -> None:
        for path in self._paths():
            path.initialize(initializer, rng)

    def work_per_row(self) -> int:
        return super().work_per_row() + sum(path.work_per_row() for path in self._paths())

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        # x: (batch, *input_shape) -> y: (batch, *output_shape)
        fx = self.body.forward(x, training, rng)  # (batch, *output_shape); x left as it was
        sx = x if self.projection is None else self.projection.forward(x, training, rng)
        y = self._y.take(len(x))
        np.add(fx, sx, out=y)
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        # dy: (batch, *output_shape) -> dx: (batch, *input_shape)
        dy_body = self._dy_body.take(len(dy))
        np.copyto(dy_body, dy)  # the body may overwrite its dy; the shortcut still needs dy
        dx = self.body.backward(dy_body, need_dx)
        dx_shortcut = dy if self.projection is None else self.projection.backward(dy, need_dx)
        if not need_dx:
            return None
        dx += dx_shortcut  # dx is the body's work array (or dy_body): ours to write
        return dx
