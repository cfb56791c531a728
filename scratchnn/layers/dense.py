"""The fully connected layer: ``y = x @ W + b``, over the last axis."""

import math

import numpy as np

from scratchnn.buffers import RowBuffer
from scratchnn.layers.base import Arrays, Layer, Rng, Shape, register, require


@register("dense")
class Dense(Layer):
    """``y = x @ W + b`` for inputs ``x`` (batch, ..., n_in); ``units`` outputs.

    ``W`` has shape ``(n_in, n_out)`` and ``b`` shape ``(1, n_out)``, the original script's
    layout (file names ``weights`` and ``biases``). ``n_in`` is the input's last axis. Flat
    inputs (batch, n_in) are an MLP's; a sequence of tokens (batch, T, n_in) maps each token
    alike, (batch, T, n_in) -> (batch, T, n_out): the leading axes are viewed as one axis of
    rows (batch*T, n_in), so it is still one matrix product.
    """

    weight_names = ("weights",)

    def __init__(self, units: int) -> None:
        require(units >= 1, "units", units, "a dense layer needs at least 1 output")
        self.units = units

    def output_shape_for(self, input_shape: Shape) -> Shape:
        self.n_in, self.n_out = input_shape[-1], self.units
        return (*input_shape[:-1], self.units)

    def param_shapes(self) -> dict[str, Shape]:
        return {"weights": (self.n_in, self.n_out), "biases": (1, self.n_out)}

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        self.W, self.b = params["weights"], params["biases"]
        self.dW, self.db = grads["weights"], grads["biases"]
        self._dx = RowBuffer(self.input_shape, dtype)
        self._ones = np.ones((1, 0), dtype=dtype)  # (1, rows), for db
        self._rows_per_sample = math.prod(self.input_shape[:-1])  # 1, or T tokens

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        # x: (batch, ..., n_in) -> y: (batch, ..., n_out), as rows (batch*..., n_in) -> (.., n_out)
        self._x = x
        y = self._y.take(len(x))
        np.matmul(self.rows(x, self.n_in), self.W, out=self.rows(y, self.n_out))
        y += self.b  # b: (1, n_out), broadcast over the rows
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        # dy: (batch, ..., n_out), as rows g (rows, n_out)
        g, n_rows = self.rows(dy, self.n_out), len(dy) * self._rows_per_sample
        np.matmul(self.rows(self._x, self.n_in).T, g, out=self.dW)  # dW = x.T @ g: (n_in, n_out)
        # db = sum of g over the rows: (1, n_out), as the product ones(1, rows) @ g, which
        # BLAS does several times faster than NumPy's column sums of a short batch
        if self._ones.shape[1] < n_rows:
            self._ones = np.ones((1, n_rows), dtype=self._ones.dtype)
        np.matmul(self._ones[:, :n_rows], g, out=self.db)
        if not need_dx:  # the first layer's dx would be d(loss)/d(pixels): nobody needs it
            return None
        dx = self._dx.take(len(dy))
        np.matmul(g, self.W.T, out=self.rows(dx, self.n_in))  # dx = g @ W.T: (rows, n_in)
        return dx

    @staticmethod
    def rows(a: np.ndarray, width: int) -> np.ndarray:
        """``a`` (batch, ..., width) as rows (batch*..., width): ``a`` itself when 2-D, else a
        view (a copy only if ``a`` is not one block of memory)."""
        return a if a.ndim == 2 else a.reshape(-1, width)
