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
    whose statistics are taken over the batch *and* every position, m = batch*h*w values each.
    The work is done on (batch, d) rows, one sample per row (d = h*w*c; value j belongs to
    channel j % c), with the per-channel vectors laid out along a row (``spread``): every pass is
    then one long loop. On (m, c) rows NumPy would loop over c values at a time (measured on
    (128, 28, 28, 16): forward and backward 14 ms that way). A channel's sum is the sum of its
    column sums.

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
        self._positions = math.prod(self.input_shape) // c  # h*w; 1 for dense inputs
        self._columns = np.empty((1, math.prod(self.input_shape)), dtype)
        self._mean, self._var, self._inv_std = (np.empty(c, dtype) for _ in range(3))
        self._trained = False

    def work_per_row(self) -> int:
        return 4 * math.prod(self.input_shape)

    def _channel_sum(self, rows: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out`` (c,) = each channel's sum over the rows of ``rows`` (batch, d) and over its
        positions: the column sums (ones(1, batch) @ rows), then the h*w columns of a channel."""
        if self._ones.shape[1] < len(rows):
            self._ones = np.ones((1, len(rows)), dtype=self._ones.dtype)
        columns = np.matmul(self._ones[:, : len(rows)], rows, out=self._columns)  # (1, d)
        return np.sum(columns.reshape(-1, len(out)), axis=0, out=out)

    def spread(self, per_channel: np.ndarray) -> np.ndarray:
        """A (c,) vector laid out along a row (d,): entry j is ``per_channel[j % c]``."""
        return np.tile(per_channel, self._positions)

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        # x: (batch, ..., c) -> y: the same shape
        if not x.flags.c_contiguous:  # the (batch, d) views below need one block of memory
            x = np.ascontiguousarray(x)
        y = self.output(x)
        x2, y2 = x.reshape(len(x), -1), y.reshape(len(x), -1)  # (batch, d) views
        self._trained = training
        if not training:  # y = x * scale + shift, from the running statistics
            scale = self.gamma / np.sqrt(self.running_var + self.eps)  # (c,)
            np.multiply(x2, self.spread(scale), out=y2)
            y2 += self.spread(self.beta - self.running_mean * scale)
            return y
        m = len(x2) * self._positions  # values per channel
        x_hat = self._x_hat.take(len(x)).reshape(len(x), -1)  # (batch, d)
        mean, var, inv_std = self._mean, self._var, self._inv_std  # (c,) each
        self._channel_sum(x2, mean)
        mean *= 1 / m
        np.subtract(x2, self.spread(mean), out=x_hat)  # x - mean (x may be y: not needed again)
        np.multiply(x_hat, x_hat, out=y2)
        self._channel_sum(y2, var)
        var *= 1 / m
        np.add(var, self.eps, out=inv_std)
        np.sqrt(inv_std, out=inv_std)
        np.divide(1, inv_std, out=inv_std)
        x_hat *= self.spread(inv_std)
        self._x_hat_kept = x_hat
        np.multiply(x_hat, self.spread(self.gamma), out=y2)
        y2 += self.spread(self.beta)
        for running, batch in ((self.running_mean, mean), (self.running_var, var)):
            running *= self.momentum
            running += (1 - self.momentum) * batch
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        # dy: (batch, ..., c) -> dx: the same shape, written over dy
        if not self._trained:
            raise RuntimeError("BatchNorm.backward needs a forward pass with training=True")
        g, x_hat = dy.reshape(len(dy), -1), self._x_hat_kept  # (batch, d)
        m = len(g) * self._positions
        self._channel_sum(g, self.dbeta)
        work = self._work.take(len(dy)).reshape(len(dy), -1)
        np.multiply(g, x_hat, out=work)
        self._channel_sum(work, self.dgamma)
        if not need_dx:
            return None
        np.multiply(x_hat, self.spread(self.dgamma * (1 / m)), out=work)
        g -= work
        g -= self.spread(self.dbeta * (1 / m))
        g *= self.spread(self.gamma * self._inv_std)
        return g.reshape(dy.shape)
