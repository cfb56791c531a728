"""Reusable work arrays, so a training step allocates nothing."""

import numpy as np


class RowBuffer:
    """A ``(rows, cols)`` array reused across batches.

    ``take(n)`` returns a view of the first ``n`` rows (C-contiguous), growing the array only
    when a larger batch than ever before arrives. An epoch's short last batch reuses the memory.
    """

    def __init__(self, cols: int, dtype: np.dtype | type) -> None:
        self._array = np.empty((0, cols), dtype=dtype)

    def take(self, rows: int) -> np.ndarray:
        if rows > self._array.shape[0]:
            self._array = np.empty((rows, self._array.shape[1]), dtype=self._array.dtype)
        return self._array[:rows]
