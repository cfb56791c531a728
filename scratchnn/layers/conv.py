"""2-D convolution over channels-last images, as matrix products over im2col's columns.

Shapes (channels last, "NHWC"): ``x`` (batch, h, w, c_in), kernel ``W`` (k, k, c_in, filters),
``b`` (filters,), ``y`` (batch, h_out, w_out, filters), with ``h_out = (h + 2p - k) // s + 1``
for padding ``p`` and stride ``s``. Like every framework, it computes a cross-correlation:

    y[n, i, j, f] = b[f] + sum over (di, dj, c) of xp[n, s*i + di, s*j + dj, c] * W[di, dj, c, f]

where ``xp`` is ``x`` with ``p`` zeros around. im2col copies, for each output position, the
k*k*c_in input values it sums over into one row of ``cols`` (rows, k*k*c_in); the whole
convolution is then ``cols @ W.reshape(k*k*c_in, filters)``. Channels last keeps each copy a run
of c_in contiguous values, and the product's result *is* ``y``, with no transpose.

The three products of a training step, all on columns of this kind:

    forward       y  = cols(xp) @ W + b
    weights       dW = cols(xp).T @ dy,  db = dy summed over its rows
    input         dx = cols(dy dilated) @ W flipped

The last line is the textbook identity "the gradient of a convolution is a convolution":
spread dy's pixels ``s`` apart (zeros between them), frame them with ``k - 1`` zeros, and
correlate with the kernel rotated by 180 degrees, its in and out channels swapped. It replaces
col2im's scattered adds (25 small products and 25 adds for a 5x5 kernel) with one more im2col.

Chunks: a batch's cols are large (the second convolution of ``conf/model/cnn.yaml``: 40 MB for
128 images), and copied whole they go out to memory and come back for the product. Built for a
few images at a time, they are read by the product while still in the cache, and backward builds
them again instead of keeping them; the bias is added to each chunk's rows then too. How many
images: CHUNK_BYTES of cols (26 images there). Measured on a busy machine, 10 batches of that
network, old layer against new: on one thread (CPU time) 1 MiB chunks were 21 % faster than
whole batches and 8 MiB ones 5 %; on two BLAS threads (wall time) 8-32 MiB chunks were 18 %
faster, 1 MiB ones 2.1 x slower: each product wakes the second thread, and on a busy machine
that can take milliseconds, so fewer, larger products win there.
Every chunk of a batch is the same product on other rows, so results do not depend on the
chunking, but for dW, which adds the chunks' products in their fixed order.

One exception: with a single input channel (the first layer on grey images) a window's row is
only k values long, and copying runs that short is slow. Then im2col writes the chunk's cols
transposed, (k*k, rows): each kernel offset's shifted image is one long run; the products take
the transposed view.
"""

from collections.abc import Iterator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from scratchnn.buffers import ColumnBuffer, RowBuffer
from scratchnn.layers.base import Arrays, Layer, LayerSpecError, Rng, Shape, register, require

CHUNK_BYTES = 8 << 20  # one chunk's cols: a few products a batch, each reading a cached chunk


def windows(xp: np.ndarray, kernel: int, stride: int, out_hw: tuple[int, int]) -> np.ndarray:
    """A (batch, h_out, w_out, k, k, c) strided view of every kxk window of ``xp`` (no copy)."""
    h_out, w_out = out_hw
    view = sliding_window_view(xp, (kernel, kernel), axis=(1, 2))  # (batch, h', w', c, k, k)
    view = view[:, : stride * (h_out - 1) + 1 : stride, : stride * (w_out - 1) + 1 : stride]
    return view.transpose(0, 1, 2, 4, 5, 3)


class Im2col:
    """The cols of images of one shape, built chunk by chunk into one reused buffer."""

    def __init__(
        self, kernel: int, stride: int, out_hw: tuple[int, int], channels: int, dtype: np.dtype
    ) -> None:
        self.kernel, self.stride, self.out_hw = kernel, stride, out_hw
        self.depth = kernel * kernel * channels  # cols' width
        self.rows_per_image = out_hw[0] * out_hw[1]
        image_bytes = self.rows_per_image * self.depth * np.dtype(dtype).itemsize
        self.images_per_chunk = max(1, CHUNK_BYTES // image_bytes)
        self.transposed = channels == 1  # then cols is built transposed: see the module's docstring
        if self.transposed:
            self._cols_t = ColumnBuffer(self.depth, dtype)  # (k*k, rows)
        else:
            self._cols = RowBuffer((*out_hw, kernel, kernel, channels), dtype)

    def chunks(self, xp: np.ndarray) -> Iterator[tuple[slice, np.ndarray]]:
        """For each chunk of images of ``xp`` (batch, h', w', c): the rows of the batch's
        output it covers, and its cols (rows, k*k*c). Row (n, i, j) holds the window that output
        pixel (i, j) of sample n sums over, in (di, dj, c) order. Valid until the next chunk."""
        view = windows(xp, self.kernel, self.stride, self.out_hw)  # (batch, h_out, w_out, k, k, c)
        for start in range(0, len(xp), self.images_per_chunk):
            part = view[start : start + self.images_per_chunk]  # (images, h_out, w_out, k, k, c)
            rows = slice(start * self.rows_per_image, (start + len(part)) * self.rows_per_image)
            yield rows, self.copy(part)

    def copy(self, part: np.ndarray) -> np.ndarray:
        if self.transposed:  # written as (k, k, 1, images, h_out, w_out): long runs
            cols_t = self._cols_t.take(len(part) * self.rows_per_image)
            np.copyto(
                cols_t.reshape(*part.shape[3:], *part.shape[:3], copy=False),
                part.transpose(3, 4, 5, 0, 1, 2),
            )
            return cols_t.T
        cols = self._cols.take(len(part))
        np.copyto(cols, part)
        return cols.reshape(-1, self.depth)


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
        h, w, _ = self.input_shape
        self.W, self.b = params["weights"], params["biases"]
        self.dW, self.db = grads["weights"], grads["biases"]
        self._W_matrix = self.W.reshape(k * k * c, f)  # views of the same memory
        self._dW_matrix = self.dW.reshape(k * k * c, f)
        self._db_row = self.db.reshape(1, f)
        self._dW_chunk = np.empty_like(self._dW_matrix)
        self._padded = RowBuffer((h + 2 * p, w + 2 * p, c), dtype, fill=0.0)  # border stays 0
        self._cols = Im2col(k, self.stride, self.out_hw, c, dtype)
        # dy spread s pixels apart in a frame of zeros (which stay zero): see the docstring
        self._dilated = RowBuffer((h + 2 * p + k - 1, w + 2 * p + k - 1, f), dtype, fill=0.0)
        self._dy_cols = Im2col(k, 1, (h, w), f, dtype)
        self._W_flipped = np.empty((k, k, f, c), dtype)
        self._dx = RowBuffer(self.input_shape, dtype)
        self._ones = np.ones((1, 0), dtype=dtype)

    def work_per_row(self) -> int:
        h, w, c = self.input_shape
        p, k = self.padding, self.kernel
        padded, dilated = (h + 2 * p) * (w + 2 * p) * c, (h + 2 * p + k - 1) * (w + 2 * p + k - 1)
        return super().work_per_row() + padded + dilated * self.filters + h * w * c

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        # x: (batch, h, w, c_in) -> y: (batch, h_out, w_out, filters)
        batch, p = len(x), self.padding
        h, w, _ = self.input_shape
        # x inside its zero frame, (batch, h + 2p, w + 2p, c_in): a copy even without padding,
        # since backward reads it again and nobody promises that x stays as it is until then
        xp = self._padded.take(batch)
        xp[:, p : p + h, p : p + w] = x
        self._xp = xp
        y = self._y.take(batch)
        y_matrix = y.reshape(-1, self.filters)  # (rows, filters), rows = batch*h_out*w_out
        # the bias along each sample's whole row (h_out*w_out copies): one long loop, where
        # y_matrix += b would loop over only `filters` values at a time; added to each chunk's
        # rows while they are still in the cache
        bias_row = np.tile(self.b, self.out_hw[0] * self.out_hw[1])  # (h_out*w_out*filters,)
        for rows, cols in self._cols.chunks(xp):
            chunk = y_matrix[rows]  # (chunk's rows, filters), a contiguous view
            np.matmul(cols, self._W_matrix, out=chunk)
            per_image = chunk.reshape(-1, len(bias_row))  # (chunk's images, h_out*w_out*filters)
            per_image += bias_row
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        # dy: (batch, h_out, w_out, filters) -> dx: (batch, h, w, c_in)
        dy_matrix = dy.reshape(-1, self.filters)  # (rows, filters); a copy if dy is strided
        for n, (rows, cols) in enumerate(self._cols.chunks(self._xp)):
            np.matmul(cols.T, dy_matrix[rows], out=self._dW_chunk if n else self._dW_matrix)
            if n:
                self._dW_matrix += self._dW_chunk
        if self._ones.shape[1] < len(dy_matrix):
            self._ones = np.ones((1, len(dy_matrix)), dtype=self._ones.dtype)
        np.matmul(self._ones[:, : len(dy_matrix)], dy_matrix, out=self._db_row)  # sum over rows
        return self.input_gradient(dy) if need_dx else None

    def input_gradient(self, dy: np.ndarray) -> np.ndarray:
        """dx (batch, h, w, c_in): dy dilated by the stride, framed with k - 1 zeros, correlated
        with the flipped kernel. Output pixel (i, j) reached padded pixel (s*i + di, s*j + dj)
        through W[di, dj], so dy[n, i, j] sits at (s*i + k - 1, s*j + k - 1) of ``dilated``, and
        padded pixel u collects dilated[u : u + k] with the kernel's rows reversed."""
        batch, k, s, p = len(dy), self.kernel, self.stride, self.padding
        h, w, _ = self.input_shape
        h_out, w_out = self.out_hw
        dilated = self._dilated.take(batch)  # (batch, h + 2p + k - 1, w + 2p + k - 1, filters)
        dilated[:, k - 1 : k - 1 + s * h_out : s, k - 1 : k - 1 + s * w_out : s] = dy
        # W[k-1-a, k-1-b, c, f] as (a, b, f, c): the kernel turned by 180 degrees, transposed
        np.copyto(self._W_flipped, self.W[::-1, ::-1].transpose(0, 1, 3, 2))
        W_flipped = self._W_flipped.reshape(-1, self.c_in)  # (k*k*filters, c_in)
        dx = self._dx.take(batch)
        dx_matrix = dx.reshape(-1, self.c_in)  # (batch*h*w, c_in)
        inside = dilated[:, p : p + h + k - 1, p : p + w + k - 1]  # the padding's pixels dropped
        for rows, cols in self._dy_cols.chunks(inside):
            np.matmul(cols, W_flipped, out=dx_matrix[rows])
        return dx
