"""Softmax followed by categorical cross-entropy, fused into one layer.

For logits ``z`` (batch, C), integer labels ``t`` (batch,):
    p = softmax(z) = exp(z - max z) / sum(exp(z - max z))   (subtracting the max avoids overflow)
    L = -mean(log(clip(p[t], eps, 1 - eps)))                (the original's clip, eps = 1e-7)
    dL/dz = (p - onehot(t)) / batch                          (the fused gradient)
The clip only bounds the reported loss; the gradient is the exact one of the unclipped loss,
as in the original script. Labels outside ``0 .. C-1`` are refused (``ValueError``).
"""

import numpy as np

from scratchnn.buffers import RowBuffer
from scratchnn.metrics import check_labels

CLIP_EPS = 1e-7


class SoftmaxCrossEntropy:
    """The loss and its gradient for one batch at a time, in buffers reused across batches."""

    def __init__(self, n_classes: int, dtype: np.dtype | type = np.float32) -> None:
        self.n_classes = n_classes
        self._p = RowBuffer(n_classes, dtype)
        self._row = RowBuffer(1, dtype)  # a per-row max, then a per-row sum
        self._ones = np.ones((n_classes, 1), dtype=dtype)
        self._rows = np.arange(0)

    def forward(self, z: np.ndarray, labels: np.ndarray) -> float:
        """Return the mean loss; keep the probabilities in ``self.p`` (batch, C) for backward."""
        check_labels(labels, self.n_classes, "SoftmaxCrossEntropy.forward")
        batch = len(z)
        p = self._p.take(batch)  # (batch, C)
        row = self._row.take(batch)  # (batch, 1)
        z.max(axis=1, keepdims=True, out=row)
        np.subtract(z, row, out=p)
        np.exp(p, out=p)
        # the row sums as a matrix-vector product: (batch, C) @ (C, 1), much faster than a
        # NumPy reduction along rows only C = 10 long
        np.matmul(p, self._ones, out=row)
        np.divide(p, row, out=p)
        self.p = p
        self._labels = labels
        if len(self._rows) < batch:
            self._rows = np.arange(batch)
        p_true = p[self._rows[:batch], labels]  # (batch,): the probability of the true class
        np.maximum(p_true, CLIP_EPS, out=p_true)  # np.clip, without its Python-level overhead
        np.minimum(p_true, 1 - CLIP_EPS, out=p_true)
        np.log(p_true, out=p_true)
        return -float(p_true.sum()) / batch

    def backward(self) -> np.ndarray:
        """Return dL/dz = (p - onehot) / batch, computed in place of ``self.p``."""
        dz = self.p
        batch = len(dz)
        dz[self._rows[:batch], self._labels] -= 1
        dz *= 1 / batch
        return dz
