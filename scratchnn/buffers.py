"""Reusable work arrays, so a training step allocates nothing."""

import math

import numpy as np


class RowBuffer:
    """A ``(rows, *shape)`` array reused across batches.

    ``take(n)`` returns a view of the first ``n`` rows (C-contiguous), growing the array only
    when a larger batch than ever before arrives. An epoch's short last batch reuses the memory.
    ``shape`` is what one row holds: an int (``RowBuffer(784, ...)``: rows of 784 values) or a
    tuple (``RowBuffer((28, 28, 16), ...)``: one image's feature maps per row).

    ``fill``, when given, is written into the whole array each time it is (re)allocated, never
    afterwards: a padded image keeps the zeros of its border as long as only its inside is written.
    """

    def __init__(
        self, shape: int | tuple[int, ...], dtype: np.dtype | type, fill: float | None = None
    ) -> None:
        self.shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self.fill = fill
        self._array = np.empty((0, *self.shape), dtype=dtype)

    def take(self, rows: int) -> np.ndarray:
        if rows > self._array.shape[0]:
            if self.fill is None:
                self._array = np.empty((rows, *self.shape), dtype=self._array.dtype)
            else:
                self._array = np.full((rows, *self.shape), self.fill, dtype=self._array.dtype)
        return self._array[:rows]


class ColumnBuffer:
    """A ``(height, columns)`` array reused across batches, growing along its columns: the
    transpose of a ``RowBuffer`` of 2-D rows, for a matrix whose rows are features and whose
    columns are samples. ``take(n)`` returns the first ``n`` columns, a view whose rows are
    each contiguous."""

    def __init__(self, height: int, dtype: np.dtype | type) -> None:
        self._array = np.empty((height, 0), dtype=dtype)

    def take(self, columns: int) -> np.ndarray:
        if columns > self._array.shape[1]:
            self._array = np.empty((self._array.shape[0], columns), dtype=self._array.dtype)
        return self._array[:, :columns]


class StepBuffer:
    """A ``(steps, rows, *shape)`` array reused across batches: time-major, one block of memory
    per time step, for recurrent layers. ``take(n)`` returns ``(steps, n, *shape)``, itself one
    C-contiguous block (the front of a flat array), so it can also be viewed as rows
    ``(steps*n, ...)`` for the products over all steps at once."""

    def __init__(self, steps: int, shape: int | tuple[int, ...], dtype: np.dtype | type) -> None:
        self.steps = steps
        self.shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self._flat = np.empty(0, dtype=dtype)

    def take(self, rows: int) -> np.ndarray:
        size = self.steps * rows * math.prod(self.shape)
        if size > self._flat.size:
            self._flat = np.empty(size, dtype=self._flat.dtype)
        return self._flat[:size].reshape(self.steps, rows, *self.shape)
