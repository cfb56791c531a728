"""Layers: each has ``forward(x) -> y`` and ``backward(dy) -> dx``, side by side.

Notation: ``batch`` rows, ``dL/dy`` is written ``dy``. Layers keep what the backward pass needs
from the forward pass, and write into reused buffers (see ``buffers.RowBuffer``).
"""

import numpy as np

from scratchnn.buffers import RowBuffer


class Dense:
    """A fully connected layer: ``y = x @ W + b``.

    ``W`` has shape ``(n_in, n_out)`` and ``b`` shape ``(1, n_out)``, the original script's layout.
    The parameters are not owned by the layer: ``bind`` makes ``W``, ``b`` (and the gradients
    ``dW``, ``db``) views into the network's flat buffers, so an optimiser updates every layer in
    a few whole-array operations.
    """

    def __init__(self, n_in: int, n_out: int) -> None:
        if n_in < 1 or n_out < 1:
            raise ValueError(f"Dense needs n_in >= 1 and n_out >= 1, got ({n_in}, {n_out})")
        self.n_in = n_in
        self.n_out = n_out

    @property
    def n_params(self) -> int:
        return self.n_in * self.n_out + self.n_out

    def bind(self, params: np.ndarray, grads: np.ndarray) -> None:
        """Use ``params`` and ``grads`` (flat, ``n_params`` long) as W, b and dW, db."""
        split = self.n_in * self.n_out
        self.W = params[:split].reshape(self.n_in, self.n_out)
        self.b = params[split:].reshape(1, self.n_out)
        self.dW = grads[:split].reshape(self.n_in, self.n_out)
        self.db = grads[split:].reshape(1, self.n_out)
        self._y = RowBuffer(self.n_out, params.dtype)
        self._dx = RowBuffer(self.n_in, params.dtype)
        self._ones = np.ones((1, 0), dtype=params.dtype)  # (1, batch), for db

    def forward(self, x: np.ndarray) -> np.ndarray:
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


class ReLU:
    """``relu(x) = max(x, 0) = x * (x > 0)``, applied in place.

    The forward pass keeps the mask ``x > 0``, which is all the backward pass needs. In place is
    safe because the Dense layer before a ReLU does not need its own output for its backward
    pass; it saves a (batch, n) array per layer. (Multiplying by the mask is also faster than
    NumPy's ``maximum`` with a scalar.)
    """

    def __init__(self) -> None:
        self._masks: RowBuffer | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        # x: (batch, n) -> y: (batch, n), overwriting x
        if self._masks is None:
            self._masks = RowBuffer(x.shape[1], np.bool_)
        self._positive = self._masks.take(len(x))  # (batch, n) bool
        np.greater(x, 0, out=self._positive)
        np.multiply(x, self._positive, out=x)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # dy: (batch, n) -> dx = dy where x > 0, else 0; overwrites dy
        np.multiply(dy, self._positive, out=dy)
        return dy
