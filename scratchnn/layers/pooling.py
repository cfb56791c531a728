"""Max and average pooling over channels-last images.

``x`` (batch, h, w, c) -> ``y`` (batch, h_out, w_out, c), ``h_out = (h - pool) // stride + 1``:
each output value summarises a ``pool``x``pool`` window, channel by channel. Both layers work
on the pool*pool strided views ``x[:, di::stride, dj::stride]`` (one per offset in the window),
each (batch, h_out, w_out, c): a few whole-array operations instead of a loop over windows.
"""

import numpy as np

from scratchnn.buffers import RowBuffer
from scratchnn.layers.base import Arrays, Layer, LayerSpecError, Rng, Shape, register, require


class Pool2D(Layer):
    """What max and average pooling share: settings, shapes and the strided views."""

    def __init__(self, pool: int = 2, stride: int | None = None) -> None:
        require(pool >= 1, "pool", pool, "a window needs at least 1x1 pixels")
        require(stride is None or stride >= 1, "stride", stride, "windows move at least 1 pixel")
        self.pool, self.stride = pool, stride

    @property
    def step(self) -> int:
        """The stride; by default the pool size: windows side by side, not overlapping."""
        return self.pool if self.stride is None else self.stride

    def output_shape_for(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise LayerSpecError(
                f"{self.type_name} needs (h, w, channels) inputs, got {input_shape}"
            )
        h, w, c = input_shape
        require(
            self.pool <= min(h, w), "pool", self.pool, f"it is larger than its input {input_shape}"
        )
        self.out_hw = ((h - self.pool) // self.step + 1, (w - self.pool) // self.step + 1)
        # does every input pixel belong to exactly one window? then backward just assigns
        self._tiles = self.step == self.pool and h % self.pool == 0 and w % self.pool == 0
        return (*self.out_hw, c)

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        self._dx = RowBuffer(self.input_shape, dtype)
        self._work = RowBuffer(self.output_shape, dtype)  # overlapping windows' shares of dx

    def views(self, a: np.ndarray) -> list[np.ndarray]:
        """The pool*pool views of ``a`` (batch, h, w, c), one per window offset (di, dj) in
        reading order, each (batch, h_out, w_out, c): ``a[n, s*i + di, s*j + dj, ch]``."""
        s, (h_out, w_out) = self.step, self.out_hw
        return [
            a[:, di : di + s * (h_out - 1) + 1 : s, dj : dj + s * (w_out - 1) + 1 : s]
            for di in range(self.pool)
            for dj in range(self.pool)
        ]

    def start_dx(self, batch: int) -> np.ndarray:
        dx = self._dx.take(batch)  # (batch, h, w, c)
        if not self._tiles:  # pixels in no window get 0; pixels in several windows add up
            dx.fill(0)
        return dx

    def send(self, target: np.ndarray, share: np.ndarray) -> None:
        """Give one window offset's share of the gradient to its view of dx."""
        if self._tiles:
            np.copyto(target, share)
        else:
            target += share


@register("maxpool2d")
class MaxPool2D(Pool2D):
    """``y`` = the largest value of each window. The gradient goes to the window's maximum;
    when several values tie for it, to the first in reading order (row by row), as the
    forward pass found it: max(a, b) keeps a when b is not strictly larger."""

    reads_output = True  # backward compares x with y to find each window's maximum

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        self._hits = RowBuffer(self.output_shape, np.bool_)

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        # x: (batch, h, w, c) -> y: (batch, h_out, w_out, c)
        self._x = x
        first, *others = self.views(x)
        y = self._y.take(len(x))
        np.copyto(y, first)
        for view in others:
            np.maximum(y, view, out=y)
        self._y_kept = y
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # dy: (batch, h_out, w_out, c) -> dx: (batch, h, w, c)
        dx = self.start_dx(len(dy))
        y, left = self._y_kept, dy  # left: the gradient no window cell has taken yet
        hit = self._hits.take(len(dy))
        views = list(zip(self.views(self._x), self.views(dx), strict=True))
        for n, (x_view, dx_view) in enumerate(views):
            np.equal(x_view, y, out=hit)  # where this offset holds the window's maximum
            share = dx_view if self._tiles else self._work.take(len(dy))
            np.multiply(left, hit, out=share)
            if not self._tiles:
                dx_view += share
            if n < len(views) - 1:
                left -= share  # a tie's later cells get nothing (left is dy's buffer: free)
        return dx


@register("avgpool2d")
class AvgPool2D(Pool2D):
    """``y`` = the mean of each window; each of its pool*pool inputs gets ``dy / pool**2``."""

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        # x: (batch, h, w, c) -> y: (batch, h_out, w_out, c)
        first, *others = self.views(x)
        y = self._y.take(len(x))
        np.copyto(y, first)
        for view in others:
            y += view
        y *= 1 / self.pool**2
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # dy: (batch, h_out, w_out, c) -> dx: (batch, h, w, c)
        dx = self.start_dx(len(dy))
        dy *= 1 / self.pool**2  # dy is free to overwrite: each view gets this same share
        for dx_view in self.views(dx):
            self.send(dx_view, dy)
        return dx
