"""Layers that only change how the values are arranged."""

import math

import numpy as np

from scratchnn.layers.base import Layer, Rng, Shape, register


@register("flatten")
class Flatten(Layer):
    """(batch, h, w, c) -> (batch, h*w*c), row-major (channels fastest), as a view: no copy.
    Backward reshapes the gradient back to the input's shape."""

    returns_view = True

    def __init__(self) -> None:
        pass

    def output_shape_for(self, input_shape: Shape) -> Shape:
        return (math.prod(input_shape),)

    def work_per_row(self) -> int:
        return 0

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        return x.reshape(len(x), -1)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy.reshape(len(dy), *self.input_shape)
