"""2-D convolution over channels-last images, as one matrix product (im2col).

Shapes (channels last, "NHWC"): ``x`` (batch, h, w, c_in), kernel ``W`` (k, k, c_in, filters),
``b`` (filters,), ``y`` (batch, h_out, w_out, filters), with ``h_out = (h + 2p - k) // s + 1``
for padding ``p`` and stride ``s``. Like every framework, it computes a cross-correlation:

    y[n, i, j, f] = b[f] + sum over (di, dj, c) of xp[n, s*i + di, s*j + dj, c] * W[di, dj, c, f]

where ``xp`` is ``x`` with ``p`` zeros around. im2col copies, for each output position, the
k*k*c_in input values it sums over into one row of ``cols`` (batch*h_out*w_out, k*k*c_in); the
whole convolution is then ``cols @ W.reshape(k*k*c_in, filters)``. Channels last keeps each
copy a run of c_in contiguous values, and the product's result *is* ``y``, with no transpose.

One exception: with a single input channel (the first layer on grey images) a window's row is
only k values long, and copying runs that short is slow (measured: (128, 32, 32, 1), 5x5: 2.0 ms).
Then im2col writes ``cols`` transposed, (k*k, batch*h_out*w_out): each kernel offset's shifted
image is one long run (0.5 ms); the products take the transposed view.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from scratchnn.buffers import ColumnBuffer, RowBuffer
from scratchnn.layers.base import Arrays, Layer, LayerSpecError, Rng, Shape, register, require


def windows(xp: np.ndarray, kernel: int, stride: int, out_hw: tuple[int, int]) -> np.ndarray:
    """A (batch, h_out, w_out, k, k, c) strided view of every kxk window of ``xp`` (no copy)."""
    h_out, w_out = out_hw
    view = sliding_window_view(xp, (kernel, kernel), axis=(1, 2))  # (batch, h', w', c, k, k)
    view = view[:, : stride * (h_out - 1) + 1 : stride, : stride * (w_out - 1) + 1 : stride]
    return view.transpose(0, 1, 2, 4, 5, 3)


@register("conv2d")
class Conv2D(Layer):
    """``filters`` kernels of ``kernel``x``kernel`` pixels, moved ``stride`` pixels at a time over
    the input framed with ``padding`` zeros. Input and output are (batch, h, w, channels)."""

    weight_names = ("weights",)

    def __init__(self, filters: int, kernel: int, stride: int = 1, padding: int = 0) -> None:
        require(filters >= 1, "filters", filters, "a convolution needs at least 1 filter")
        require(kernel >= 1, "kernel", kernel, "a kernel needs at least 1x1 pixels")
        require(stride >= 1, "stride", stride, "the kernel must move by at least 1 pixel")
        require(padding >= 0, "padding", padding, "padding counts zeros added, at least 0")
        self.filters, self.kernel, self.stride, self.padding = filters, kernel, stride, padding

    def output_shape_for(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise LayerSpecError(f"conv2d needs (h, w, channels) inputs, got {input_shape}")
        h, w, self.c_in = input_shape
        k, s, p = self.kernel, self.stride, self.padding
        require(
            k <= min(h, w) + 2 * p,
            "kernel",
            k,
            f"it is larger than its input {input_shape} padded by {p}",
        )
        self.out_hw = ((h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
        return (*self.out_hw, self.filters)

    def param_shapes(self) -> dict[str, Shape]:
        k = self.kernel
        return {"weights": (k, k, self.c_in, self.filters), "biases": (self.filters,)}

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        k, c, f, p = self.kernel, self.c_in, self.filters, self.padding
        self.W, self.b = params["weights"], params["biases"]
        self.dW, self.db = grads["weights"], grads["biases"]
        self._W_matrix = self.W.reshape(k * k * c, f)  # views of the same memory
        self._dW_matrix = self.dW.reshape(k * k * c, f)
        self._db_row = self.db.reshape(1, f)
        h, w, _ = self.input_shape
        padded = (h + 2 * p, w + 2 * p, c)
        self._padded = RowBuffer(padded, dtype, fill=0.0)  # its border stays zero
        self._one_channel = c == 1  # then cols is built transposed: see the module's docstring
        if self._one_channel:
            self._cols_t = ColumnBuffer(k * k, dtype)  # (k*k, rows)
        else:
            self._cols = RowBuffer((*self.out_hw, k, k, c), dtype)
        self._dpadded = RowBuffer(padded, dtype)
        self._slab = RowBuffer((*self.out_hw, c), dtype)
        self._dy = RowBuffer((*self.out_hw, f), dtype)  # a contiguous copy of a strided dy
        self._ones = np.ones((1, 0), dtype=dtype)

    def work_per_row(self) -> int:
        h_out, w_out = self.out_hw
        cols = h_out * w_out * self.kernel**2 * self.c_in
        padded = (self.input_shape[0] + 2 * self.padding) * (self.input_shape[1] + 2 * self.padding)
        return super().work_per_row() + cols + 2 * padded * self.c_in

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        # x: (batch, h, w, c_in) -> y: (batch, h_out, w_out, filters)
        batch, p = len(x), self.padding
        xp = x
        if p:  # copy x inside the zero frame: (batch, h + 2p, w + 2p, c_in)
            xp = self._padded.take(batch)
            xp[:, p:-p, p:-p] = x
        self._cols_matrix = self.im2col(xp)  # (rows, k*k*c_in), rows = batch*h_out*w_out
        y = self._y.take(batch)
        y_matrix = y.reshape(-1, self.filters)  # (rows, filters), rows = batch*h_out*w_out
        np.matmul(self._cols_matrix, self._W_matrix, out=y_matrix)
        # the bias along each sample's whole row (h_out*w_out copies): one long loop, where
        # y_matrix += b would loop over only `filters` values at a time
        y_rows = y.reshape(batch, -1)  # (batch, h_out*w_out*filters), a view
        y_rows += np.tile(self.b, self.out_hw[0] * self.out_hw[1])
        return y

    def im2col(self, xp: np.ndarray) -> np.ndarray:
        """``cols`` (rows, k*k*c_in) of the padded input ``xp``: row (n, i, j) holds the window
        that output pixel (i, j) of sample n sums over, in (di, dj, c) order."""
        view = windows(xp, self.kernel, self.stride, self.out_hw)  # (batch, h_out, w_out, k, k, c)
        if self._one_channel:  # written as (k, k, 1, batch, h_out, w_out): long runs
            cols_t = self._cols_t.take(view.shape[0] * self.out_hw[0] * self.out_hw[1])
            np.copyto(
                cols_t.reshape(*view.shape[3:], *view.shape[:3], copy=False),
                view.transpose(3, 4, 5, 0, 1, 2),
            )
            return cols_t.T
        cols = self._cols.take(len(xp))
        np.copyto(cols, view)
        return cols.reshape(-1, self._W_matrix.shape[0])

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        # dy: (batch, h_out, w_out, filters)
        batch = len(dy)
        if not dy.flags.c_contiguous:  # e.g. the dx of a padded convolution: a strided view
            contiguous = self._dy.take(batch)
            np.copyto(contiguous, dy)
            dy = contiguous
        dy_matrix = dy.reshape(-1, self.filters)  # (rows, filters), a view
        np.matmul(self._cols_matrix.T, dy_matrix, out=self._dW_matrix)  # (k*k*c_in, filters)
        if self._ones.shape[1] < len(dy_matrix):
            self._ones = np.ones((1, len(dy_matrix)), dtype=self._ones.dtype)
        np.matmul(self._ones[:, : len(dy_matrix)], dy_matrix, out=self._db_row)  # sum over rows
        if not need_dx:
            return None
        # col2im: kernel offset (di, dj) sent dy @ W[di, dj].T, a (rows, c_in) slab, to the input
        # pixels at (s*i + di, s*j + dj). One small product per offset gives contiguous slabs,
        # whose adds are much faster than adding strided columns of one big dy @ W.T.
        k, s, p = self.kernel, self.stride, self.padding
        h_out, w_out = self.out_hw
        dxp = self._dpadded.take(batch)  # (batch, h + 2p, w + 2p, c_in)
        dxp.fill(0)
        slab = self._slab.take(batch)  # (batch, h_out, w_out, c_in)
        slab_matrix = slab.reshape(-1, self.c_in)
        for di in range(k):
            for dj in range(k):
                np.matmul(dy_matrix, self.W[di, dj].T, out=slab_matrix)
                target = dxp[
                    :, di : di + s * (h_out - 1) + 1 : s, dj : dj + s * (w_out - 1) + 1 : s
                ]
                target += slab
        h, w, _ = self.input_shape
        return dxp[:, p : p + h, p : p + w]  # the frame's gradients are dropped
