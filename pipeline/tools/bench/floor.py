"""The GEMM floor: the matrix products of one MLP training epoch, at the network's shapes, alone."""

import itertools
import time
from collections.abc import Sequence

import numpy as np


class EpochProducts:
    """The matrix products of one training epoch of an MLP, and nothing else.

    The same shapes and memory layouts as ``scratchnn``'s Dense layers, over contiguous batches
    of ``x`` (training gathers each batch into a contiguous buffer too). Weights and upstream
    gradients are fixed random arrays: BLAS's speed does not depend on the values.
    """

    def __init__(self, x: np.ndarray, layer_sizes: Sequence[int], batch_size: int | None) -> None:
        rng = np.random.default_rng(0)
        dtype = x.dtype
        self.x = x
        self.batch = len(x) if batch_size is None else min(batch_size, len(x))
        pairs = list(itertools.pairwise(layer_sizes))
        self.weights = [
            (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(dtype)
            for n_in, n_out in pairs
        ]
        self.grad_weights = [np.empty_like(w) for w in self.weights]
        self.outputs = [np.empty((self.batch, n_out), dtype) for _, n_out in pairs]  # a @ W
        self.upstream = [rng.standard_normal((self.batch, n)).astype(dtype) for _, n in pairs]
        self.grad_inputs = [np.empty((self.batch, n_in), dtype) for n_in, _ in pairs]  # dy @ W.T

    def flops(self) -> int:
        """Multiply-adds count 2: ``2 m k n`` per ``(m, k) @ (k, n)``."""
        n_rows = len(self.x)
        per_row = 0
        for i, w in enumerate(self.weights):
            n_in, n_out = w.shape
            per_row += 2 * n_in * n_out * (3 if i > 0 else 2)  # forward, dW, and dx but in layer 1
        return per_row * n_rows

    def run(self) -> float:
        """Seconds for one epoch of products."""
        started = time.perf_counter()
        for start in range(0, len(self.x), self.batch):
            a = self.x[start : start + self.batch]
            rows = len(a)
            inputs = []
            for w, out in zip(self.weights, self.outputs, strict=True):
                inputs.append(a)
                a = np.matmul(a, w, out=out[:rows])
            for i in reversed(range(len(self.weights))):
                dy = self.upstream[i][:rows]
                np.matmul(inputs[i].T, dy, out=self.grad_weights[i])
                if i > 0:
                    np.matmul(dy, self.weights[i].T, out=self.grad_inputs[i][:rows])
        return time.perf_counter() - started
