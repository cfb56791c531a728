"""Inverted dropout (Srivastava et al., 2014; "inverted" as in CS231n's notes)."""

import numpy as np

from scratchnn.buffers import RowBuffer
from scratchnn.layers.base import Arrays, Layer, Rng, register, require


@register("dropout")
class Dropout(Layer):
    """In training, zero each value with probability ``rate`` and scale the survivors by
    ``1 / (1 - rate)``, so the expected output is the input; at evaluation, the identity.

        mask = (u >= rate) / (1 - rate),  u ~ U[0, 1) per value;  y = x * mask;  dx = dy * mask

    The uniforms come from the generator passed to ``forward`` (``fit`` passes its own), so a
    run that restores the generator's state draws the same masks again.
    """

    can_work_in_place = True

    def __init__(self, rate: float = 0.5) -> None:
        require(0 <= rate < 1, "rate", rate, "the fraction dropped must be in [0, 1)")
        self.rate = float(rate)

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        self._masks = RowBuffer(self.input_shape, dtype)
        self._mask: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        # x: (batch, ...) -> y: (batch, ...)
        self._mask = None
        y = self.output(x)
        if not training or self.rate == 0:  # the identity: nothing to draw, nothing to scale
            if y is not x:  # not in place: x must not be written over, so y must not be x
                np.copyto(y, x)
            return y
        if rng is None:
            raise ValueError("Dropout in training draws its masks from rng: pass forward(rng=...)")
        mask = self._masks.take(len(x))
        rng.random(out=mask, dtype=mask.dtype)  # u in [0, 1)
        np.greater_equal(mask, self.rate, out=mask)  # 1.0 keeps, 0.0 drops
        mask *= 1 / (1 - self.rate)
        self._mask = mask
        np.multiply(x, mask, out=y)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._mask is not None:
            np.multiply(dy, self._mask, out=dy)
        return dy
