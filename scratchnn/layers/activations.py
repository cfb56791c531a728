"""Element-wise activations: ``y = f(x)``, ``dx = dy * f'(x)``, any input shape.

Each keeps what its backward pass needs (a mask, a factor, or ``y`` itself) in reused buffers
of the input's shape, and overwrites ``dy`` with ``dx`` (the next layer's dx buffer, free to
reuse). Those that can work in place write ``y`` over ``x`` when the network allows it.
"""

import math

import numpy as np

from scratchnn.buffers import RowBuffer
from scratchnn.layers.base import Arrays, Layer, Rng, register, require


@register("relu")
class ReLU(Layer):
    """``relu(x) = max(x, 0) = x * (x > 0)``; ``relu'(x) = (x > 0)``.

    The forward pass keeps the mask ``x > 0``, all the backward pass needs, so it can overwrite
    ``x``: the layer before a ReLU (Dense, Conv2D) does not need its own output for its backward
    pass, and in place saves an array the size of the activations. (Multiplying by the mask is
    also faster than NumPy's ``maximum`` with a scalar.)
    """

    can_work_in_place = True

    def __init__(self) -> None:
        pass

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        self._masks = RowBuffer(self.input_shape, np.bool_)

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        # x: (batch, ...) -> y: (batch, ...), over x when in place
        self._positive = self._masks.take(len(x))  # (batch, ...) bool
        np.greater(x, 0, out=self._positive)
        y = self.output(x)
        np.multiply(x, self._positive, out=y)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        np.multiply(dy, self._positive, out=dy)  # dx = dy where x > 0, else 0
        return dy


@register("leaky_relu")
class LeakyReLU(Layer):
    """``f(x) = x`` for ``x > 0``, ``slope * x`` otherwise: negative inputs keep a small gradient,
    so a unit cannot "die". Forward keeps the factor (1 or slope) that backward multiplies by."""

    can_work_in_place = True

    def __init__(self, slope: float = 0.01) -> None:
        require(math.isfinite(slope), "slope", slope, "the slope must be a finite number")
        self.slope = float(slope)

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        self._masks = RowBuffer(self.input_shape, np.bool_)
        self._factors = RowBuffer(self.input_shape, dtype)

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        positive = self._masks.take(len(x))
        np.greater(x, 0, out=positive)
        self._factor = self._factors.take(len(x))  # 1 where x > 0, slope elsewhere
        np.multiply(positive, 1 - self.slope, out=self._factor)
        self._factor += self.slope
        y = self.output(x)
        np.multiply(x, self._factor, out=y)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        np.multiply(dy, self._factor, out=dy)
        return dy


@register("sigmoid")
class Sigmoid(Layer):
    """``sigmoid(x) = 1 / (1 + exp(-x))``, computed as ``(1 + tanh(x / 2)) / 2``, the same
    function without exp's overflow for large negative x; ``sigmoid' = y * (1 - y)``."""

    can_work_in_place = True
    reads_output = True  # the derivative is computed from y

    def __init__(self) -> None:
        pass

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        self._work = RowBuffer(self.input_shape, dtype)

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        y = self.output(x)
        np.multiply(x, 0.5, out=y)
        np.tanh(y, out=y)
        y += 1
        y *= 0.5
        self._y_kept = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        y, slope = self._y_kept, self._work.take(len(dy))
        np.subtract(1, y, out=slope)
        slope *= y  # y * (1 - y)
        np.multiply(dy, slope, out=dy)
        return dy


@register("tanh")
class Tanh(Layer):
    """``tanh(x)``; ``tanh' = 1 - y**2``."""

    can_work_in_place = True
    reads_output = True

    def __init__(self) -> None:
        pass

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        self._work = RowBuffer(self.input_shape, dtype)

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        y = self.output(x)
        np.tanh(x, out=y)
        self._y_kept = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        slope = self._work.take(len(dy))
        np.multiply(self._y_kept, self._y_kept, out=slope)
        np.subtract(1, slope, out=slope)  # 1 - y**2
        np.multiply(dy, slope, out=dy)
        return dy


GELU_C = math.sqrt(2 / math.pi)
GELU_A = 0.044715


@register("gelu")
class GELU(Layer):
    """GELU in its tanh form (Hendrycks & Gimpel, 2016), as BERT and GPT-2 use it:

        y = x * h,  h = (1 + tanh(c * (x + a x**3))) / 2,   c = sqrt(2 / pi), a = 0.044715
        y' = h + 2 c x (1 + 3 a x**2) * h * (1 - h)      (as 1 - tanh**2 = 4 h (1 - h))

    Backward needs ``x`` and ``h``, so it cannot work in place.
    """

    def __init__(self) -> None:
        pass

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        self._h = RowBuffer(self.input_shape, dtype)
        self._work = RowBuffer(self.input_shape, dtype)
        self._work2 = RowBuffer(self.input_shape, dtype)

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        self._x = x
        h = self._h.take(len(x))
        np.multiply(x, x, out=h)
        h *= GELU_A
        h += 1
        h *= x
        h *= GELU_C  # c * (x + a x**3)
        np.tanh(h, out=h)
        h += 1
        h *= 0.5
        self._h_kept = h
        y = self._y.take(len(x))
        np.multiply(x, h, out=y)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        x, h = self._x, self._h_kept
        slope, h_1_minus_h = self._work.take(len(dy)), self._work2.take(len(dy))
        np.multiply(x, x, out=slope)
        slope *= 3 * GELU_A
        slope += 1
        slope *= x
        slope *= 2 * GELU_C  # 2 c x (1 + 3 a x**2)
        np.subtract(1, h, out=h_1_minus_h)
        h_1_minus_h *= h
        slope *= h_1_minus_h
        slope += h
        np.multiply(dy, slope, out=dy)
        return dy
