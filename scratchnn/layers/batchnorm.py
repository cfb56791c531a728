"""Batch normalisation (Ioffe & Szegedy, 2015), for dense and convolutional activations."""

import math
from typing import ClassVar

import numpy as np

from scratchnn.buffers import RowBuffer
from scratchnn.layers.base import Arrays, Layer, Rng, Shape, register, require


@register("batchnorm")
class BatchNorm(Layer):
    """Normalise each feature over the batch, then scale and shift it:

        x_hat = (x - mean) / sqrt(var + eps),   y = gamma * x_hat + beta

    A feature is the last axis: a unit of (batch, n) inputs, a channel of (batch, h, w, c) ones,
    whose statistics are taken over the batch *and* every position. Both are handled as one
    (m, c) matrix: m = batch (dense) or batch*h*w (convolutional), c features.

    In training, ``mean`` and ``var`` are the batch's (the biased variance, dividing by m) and
    the running averages move towards them: ``running = momentum * running + (1 - momentum) *
    batch``. At evaluation, the running averages stand in. They live in the network's ``state``:
    saved with the weights, never touched by the optimiser.

    Backward, with ``g = dy`` (m, c) and sums over the m rows (Ioffe & Szegedy's formulas,
    gathered as in CS231n's notes):

        dbeta = sum(g),  dgamma = sum(g * x_hat)
        dx = gamma / sqrt(var + eps) * (g - dbeta / m - x_hat * dgamma / m)
    """

    can_work_in_place = True
    initial_values: ClassVar[dict[str, float]] = {"gamma": 1.0, "running_var": 1.0}

    def __init__(self, momentum: float = 0.9, eps: float = 1e-5) -> None:
        require(0 <= momentum < 1, "momentum", momentum, "it must be in [0, 1)")
        require(eps > 0, "eps", eps, "it keeps the division finite: it must be > 0")
        self.momentum, self.eps = float(momentum), float(eps)

    def param_shapes(self) -> dict[str, Shape]:
        return {"gamma": (self.input_shape[-1],), "beta": (self.input_shape[-1],)}

    def state_shapes(self) -> dict[str, Shape]:
        return {"running_mean": (self.input_shape[-1],), "running_var": (self.input_shape[-1],)}

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        self.gamma, self.beta = params["gamma"], params["beta"]
        self.dgamma, self.dbeta = grads["gamma"], grads["beta"]
        self.running_mean, self.running_var = state["running_mean"], state["running_var"]
        self._x_hat = RowBuffer(self.input_shape, dtype)
        self._work = RowBuffer(self.input_shape, dtype)
        self._ones = np.ones((1, 0), dtype=dtype)  # (1, m): column sums as products
        c = self.input_shape[-1]
        self._mean, self._var = np.empty((1, c), dtype), np.empty((1, c), dtype)
        self._inv_std = np.empty((1, c), dtype)
        self._trained = False

    def work_per_row(self) -> int:
        return 4 * math.prod(self.input_shape)

    def _column_sum(self, a: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out`` (1, c) = the sum of the rows of ``a`` (m, c), as ones(1, m) @ a."""
        if self._ones.shape[1] < len(a):
            self._ones = np.ones((1, len(a)), dtype=self._ones.dtype)
        return np.matmul(self._ones[:, : len(a)], a, out=out)

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        # x: (batch, ..., c) -> y: the same shape
        c = self.input_shape[-1]
        if not x.flags.c_contiguous:  # the (m, c) views below need one block of memory
            x = np.ascontiguousarray(x)
        y = self.output(x)
        x2, y2 = x.reshape(-1, c), y.reshape(-1, c)  # (m, c) views
        self._trained = training
        if not training:  # y = x * scale + shift, from the running statistics
            scale = self.gamma / np.sqrt(self.running_var + self.eps)  # (c,)
            np.multiply(x2, scale, out=y2)
            y2 += self.beta - self.running_mean * scale
            return y
        m = len(x2)
        x_hat = self._x_hat.take(len(x)).reshape(-1, c)  # (m, c)
        mean, var, inv_std = self._mean, self._var, self._inv_std  # (1, c) each
        self._column_sum(x2, mean)
        mean *= 1 / m
        np.subtract(x2, mean, out=x_hat)  # x - mean (x itself may be y: no longer needed)
        np.multiply(x_hat, x_hat, out=y2)
        self._column_sum(y2, var)
        var *= 1 / m
        np.add(var, self.eps, out=inv_std)
        np.sqrt(inv_std, out=inv_std)
        np.divide(1, inv_std, out=inv_std)
        x_hat *= inv_std
        self._x_hat_kept = x_hat
        np.multiply(x_hat, self.gamma, out=y2)
        y2 += self.beta
        for running, batch in ((self.running_mean, mean[0]), (self.running_var, var[0])):
            running *= self.momentum
            running += (1 - self.momentum) * batch
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        # dy: (batch, ..., c) -> dx: the same shape, written over dy
        if not self._trained:
            raise RuntimeError("BatchNorm.backward needs a forward pass with training=True")
        c = self.input_shape[-1]
        g, x_hat = dy.reshape(-1, c), self._x_hat_kept  # (m, c)
        m = len(g)
        self._column_sum(g, self.dbeta.reshape(1, c))
        work = self._work.take(len(dy)).reshape(-1, c)
        np.multiply(g, x_hat, out=work)
        self._column_sum(work, self.dgamma.reshape(1, c))
        if not need_dx:
            return None
        np.multiply(x_hat, self.dgamma * (1 / m), out=work)
        g -= work
        g -= self.dbeta * (1 / m)
        g *= self.gamma * self._inv_std
        return g.reshape(dy.shape)
