"""The fully connected layer: ``y = x @ W + b``."""

import numpy as np

from scratchnn.buffers import RowBuffer
from scratchnn.layers.base import Arrays, Layer, LayerSpecError, Rng, Shape, register, require


@register("dense")
class Dense(Layer):
    """``y = x @ W + b`` for flat inputs ``x`` (batch, n_in); ``units`` outputs.

    ``W`` has shape ``(n_in, n_out)`` and ``b`` shape ``(1, n_out)``, the original script's
    layout (file names ``weights`` and ``biases``). ``n_in`` comes from the input shape.
    """

    weight_names = ("weights",)

    def __init__(self, units: int) -> None:
        require(units >= 1, "units", units, "a dense layer needs at least 1 output")
        self.units = units

    def output_shape_for(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 1:
            raise LayerSpecError(
                f"dense needs flat inputs (n,), got {input_shape}: put a flatten layer before it"
            )
        self.n_in, self.n_out = input_shape[0], self.units
        return (self.units,)

    def param_shapes(self) -> dict[str, Shape]:
        return {"weights": (self.n_in, self.n_out), "biases": (1, self.n_out)}

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        self.W, self.b = params["weights"], params["biases"]
        self.dW, self.db = grads["weights"], grads["biases"]
        self._dx = RowBuffer(self.n_in, dtype)
        self._ones = np.ones((1, 0), dtype=dtype)  # (1, batch), for db

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        # x: (batch, n_in) -> y: (batch, n_out)
        self._x = x
        y = self._y.take(len(x))
        np.matmul(x, self.W, out=y)
        y += self.b  # b: (1, n_out), broadcast over the batch
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        # dy: (batch, n_out)
        np.matmul(self._x.T, dy, out=self.dW)  # dW = x.T @ dy: (n_in, n_out)
        # db = sum of dy over the batch: (1, n_out), as the product ones(1, batch) @ dy, which
        # BLAS does several times faster than NumPy's column sums of a short batch
        if self._ones.shape[1] < len(dy):
            self._ones = np.ones((1, len(dy)), dtype=self._ones.dtype)
        np.matmul(self._ones[:, : len(dy)], dy, out=self.db)
        if not need_dx:  # the first layer's dx would be d(loss)/d(pixels): nobody needs it
            return None
        dx = self._dx.take(len(dy))
        np.matmul(dy, self.W.T, out=dx)  # dx = dy @ W.T: (batch, n_in)
        return dx
