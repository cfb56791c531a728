"""Global average pooling: each feature map averaged to one value (Lin et al., 2014)."""

import math

import numpy as np

from scratchnn.buffers import RowBuffer
from scratchnn.layers.base import Arrays, Layer, LayerSpecError, Rng, Shape, register


@register("global_avgpool")
class GlobalAvgPool(Layer):
    """(batch, h, w, c) -> (batch, c): the mean of each channel over its h*w positions,

        y[n, c] = 1/(h*w) * sum over (i, j) of x[n, i, j, c]
        dx[n, i, j, c] = dy[n, c] / (h*w)

    Ending a convolutional network with it instead of flatten leaves the dense layer after it
    c inputs, whatever the image size, and no parameters tied to positions.
    """

    def __init__(self) -> None:
        pass

    def output_shape_for(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise LayerSpecError(f"global_avgpool needs (h, w, channels) inputs, got {input_shape}")
        return (input_shape[2],)

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        self._dx = RowBuffer(self.input_shape, dtype)
        self._positions = math.prod(self.input_shape[:2])  # h*w

    def work_per_row(self) -> int:
        return math.prod(self.output_shape) + math.prod(self.input_shape)  # y and dx

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        # x: (batch, h, w, c) -> y: (batch, c)
        y = self._y.take(len(x))
        np.sum(x.reshape(len(x), self._positions, -1), axis=1, out=y)  # (batch, c)
        y *= 1 / self._positions
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # dy: (batch, c) -> dx: (batch, h, w, c), every position a share of its channel's dy
        dx = self._dx.take(len(dy))
        np.multiply(dy[:, None, None, :], 1 / self._positions, out=dx)
        return dx
