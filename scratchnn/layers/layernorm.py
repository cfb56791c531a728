"""Layer normalisation (Ba, Kiros & Hinton, 2016), the normalisation of transformers."""

import math
from typing import ClassVar

import numpy as np

from scratchnn.buffers import RowBuffer
from scratchnn.layers.base import Arrays, Layer, Rng, Shape, register, require


@register("layernorm")
class LayerNorm(Layer):
    """Normalise each sample's features (the last axis, d values), then scale and shift them:

        x_hat = (x - mean) / sqrt(var + eps),   y = gamma * x_hat + beta

    Unlike batch norm, ``mean`` and ``var`` are taken over the d features of one row, never over
    the batch: a token of (batch, T, d) inputs is a row of its own, so training and evaluation
    compute the same thing and there is no running state. The work is done on rows (m, d),
    m = batch*T; a row's mean is the product ``rows @ ones(d) / d`` (BLAS, faster than NumPy's
    sums along short rows).

    Backward, with ``g = dy * gamma`` (m, d) and means over a row's d values:

        dbeta = sum over rows of dy,  dgamma = sum over rows of dy * x_hat
        dx = (g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(var + eps)
    """

    can_work_in_place = True  # backward needs x_hat, kept in a buffer of its own
    initial_values: ClassVar[dict[str, float]] = {"gamma": 1.0}

    def __init__(self, eps: float = 1e-5) -> None:
        require(eps > 0, "eps", eps, "it keeps the division finite: it must be > 0")
        self.eps = float(eps)

    def param_shapes(self) -> dict[str, Shape]:
        return {"gamma": (self.input_shape[-1],), "beta": (self.input_shape[-1],)}

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        self.gamma, self.beta = params["gamma"], params["beta"]
        self.dgamma, self.dbeta = grads["gamma"], grads["beta"]
        self.d = self.input_shape[-1]
        self._rows_per_sample = math.prod(self.input_shape[:-1])
        self._x_hat = RowBuffer(self.input_shape, dtype)
        self._work = RowBuffer(self.input_shape, dtype)
        # one value per row (m of them): a mean, 1 / sqrt(var + eps), a mean in backward
        self._means = RowBuffer(self._rows_per_sample, dtype)
        self._inv_stds = RowBuffer(self._rows_per_sample, dtype)
        self._other_means = RowBuffer(self._rows_per_sample, dtype)
        self._mean_of_row = np.full(self.d, 1 / self.d, dtype)  # rows @ it = each row's mean
        self._ones = np.ones((1, 0), dtype=dtype)  # (1, m): column sums as products

    def work_per_row(self) -> int:
        return 4 * math.prod(self.input_shape)

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        # x: (batch, ..., d) -> y: the same shape; as rows x2, y2: (m, d)
        if not x.flags.c_contiguous:  # the (m, d) views below need one block of memory
            x = np.ascontiguousarray(x)
        n = len(x)
        x2, y2 = x.reshape(-1, self.d), self.output(x).reshape(-1, self.d)
        x_hat = self._x_hat.take(n).reshape(-1, self.d)
        mean, inv_std = self._means.take(n).reshape(-1, 1), self._inv_stds.take(n).reshape(-1, 1)
        np.matmul(x2, self._mean_of_row, out=mean[:, 0])  # (m,)
        np.subtract(x2, mean, out=x_hat)  # x - mean (x may be y: not needed again)
        np.multiply(x_hat, x_hat, out=y2)
        np.matmul(y2, self._mean_of_row, out=inv_std[:, 0])  # var: (m,)
        inv_std += self.eps
        np.sqrt(inv_std, out=inv_std)
        np.divide(1, inv_std, out=inv_std)
        x_hat *= inv_std  # (m, d) * (m, 1)
        self._x_hat_kept, self._inv_std = x_hat, inv_std
        np.multiply(x_hat, self.gamma, out=y2)
        y2 += self.beta
        return y2.reshape(x.shape)

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        # dy: (batch, ..., d) -> dx: the same shape, written over dy
        g, x_hat = dy.reshape(-1, self.d), self._x_hat_kept  # (m, d)
        work = self._work.take(len(dy)).reshape(-1, self.d)
        if self._ones.shape[1] < len(g):
            self._ones = np.ones((1, len(g)), dtype=self._ones.dtype)
        ones = self._ones[:, : len(g)]
        np.matmul(ones, g, out=self.dbeta[None])  # (1, d)
        np.multiply(g, x_hat, out=work)
        np.matmul(ones, work, out=self.dgamma[None])
        if not need_dx:
            return None
        g *= self.gamma  # g = dy * gamma
        mean_g = self._means.take(len(dy)).reshape(-1, 1)  # (m, 1); the forward's mean is done
        mean_gx = self._other_means.take(len(dy)).reshape(-1, 1)
        np.matmul(g, self._mean_of_row, out=mean_g[:, 0])
        np.multiply(g, x_hat, out=work)
        np.matmul(work, self._mean_of_row, out=mean_gx[:, 0])
        np.multiply(x_hat, mean_gx, out=work)
        g -= work
        g -= mean_g
        g *= self._inv_std
        return g.reshape(dy.shape)
