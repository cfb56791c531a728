"""Multi-head self-attention (Vaswani et al., 2017), the layer a transformer is built around."""

import math

import numpy as np

from scratchnn.buffers import ColumnBuffer, RowBuffer
from scratchnn.layers.base import Arrays, Layer, Rng, Shape, register, require
from scratchnn.layers.dense import Dense
from scratchnn.layers.tokens import require_tokens


@register("attention")
class SelfAttention(Layer):
    """Each token gathers from every token, weighted by how well they match; ``heads`` times
    side by side, each head on its own slice of dh = D / heads values. For tokens x (batch, T, D):

        [q, k, v] = x @ W_qkv + b_qkv                  (batch, T, 3D): one Dense(3D)
        q, k, v viewed per head                        (batch, heads, T, dh) each, no copy
        P = softmax(q @ k.T / sqrt(dh))                (batch, heads, T, T), along the keys
        c = P @ v, the heads side by side again        (batch, T, D)
        y = c @ W_out + b_out                          (batch, T, D): one Dense(D)

    Backward, from dc: dv = P.T @ dc, dP = dc @ v.T, dS = P * (dP - sum over keys of dP * P)
    (the softmax's Jacobian applied to dP), then dq = dS @ k / sqrt(dh) and
    dk = dS.T @ q / sqrt(dh). The products over (batch, heads) are batched matrix products:
    no Python loop over the heads.
    """

    weight_names = ("qkv_weights", "out_weights")

    def __init__(self, heads: int = 4) -> None:
        require(heads >= 1, "heads", heads, "attention needs at least 1 head")
        self.heads = heads

    def output_shape_for(self, input_shape: Shape) -> Shape:
        t, d = require_tokens(self, input_shape)
        require(
            d % self.heads == 0, "heads", self.heads, f"the token width {d} must be divisible by it"
        )
        self.tokens, self.width, self.head_width = t, d, d // self.heads
        self.qkv, self.project = Dense(3 * d), Dense(d)
        self.qkv.build(input_shape)
        self.project.build(input_shape)
        return input_shape

    def param_shapes(self) -> dict[str, Shape]:
        return {
            **{f"qkv_{name}": shape for name, shape in self.qkv.param_shapes().items()},
            **{f"out_{name}": shape for name, shape in self.project.param_shapes().items()},
        }

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        for prefix, dense in (("qkv_", self.qkv), ("out_", self.project)):
            own = [
                {name: arrays[prefix + name] for name in ("weights", "biases")}
                for arrays in (params, grads)
            ]
            dense.bind(*own, {}, dtype)
        h, t = self.heads, self.tokens
        self._probs = RowBuffer((h, t, t), dtype)  # P
        self._dprobs = RowBuffer((h, t, t), dtype)
        self._work = RowBuffer((h, t, t), dtype)
        self._row_stats = RowBuffer((h, t, 1), dtype)  # a max or a sum per row of P
        self._rows_transposed = ColumnBuffer(t, dtype)  # (T, batch*heads*T), for the maxima
        self._ones = np.ones(t, dtype)  # rows @ ones = each row's sum
        self._context = RowBuffer(self.input_shape, dtype)  # c: (batch, T, D)
        self._dqkv = RowBuffer(self.qkv.output_shape, dtype)  # (batch, T, 3D)

    def work_per_row(self) -> int:
        t, d = self.tokens, self.width
        dense = self.qkv.work_per_row() + self.project.work_per_row()
        return dense + 3 * self.heads * t * t + 4 * t * d

    def per_head(self, qkv: np.ndarray) -> np.ndarray:
        """(batch, T, 3D) as (3, batch, heads, T, dh): q, k, v by head, a view."""
        return qkv.reshape(len(qkv), self.tokens, 3, self.heads, self.head_width).transpose(
            2, 0, 3, 1, 4
        )

    def heads_of(self, c: np.ndarray) -> np.ndarray:
        """(batch, T, D) as (batch, heads, T, dh), a view."""
        return c.reshape(len(c), self.tokens, self.heads, self.head_width).transpose(0, 2, 1, 3)

    def row_sums(self, a: np.ndarray, out: np.ndarray) -> None:
        """``out`` (batch, heads, T, 1) = the sum of each row of ``a`` (batch, heads, T, T), as
        the product ``rows @ ones(T)``: NumPy's sums along a short last axis are several times
        slower (measured at T = 17: 0.8 ms, the product 0.1 ms)."""
        np.matmul(a.reshape(-1, self.tokens), self._ones, out=out.reshape(-1))

    def row_maxima(self, a: np.ndarray, out: np.ndarray) -> None:
        """``out`` (batch, heads, T, 1) = the largest value of each row of ``a``: a transposed
        copy (T, rows) first, whose maxima over axis 0 run along whole rows (at T = 17: 0.4 ms,
        against 1.3 ms for NumPy's maxima along the short last axis)."""
        rows = a.reshape(-1, self.tokens)
        transposed = self._rows_transposed.take(len(rows))
        np.copyto(transposed, rows.T)
        np.max(transposed, axis=0, out=out.reshape(-1))

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        # x: (batch, T, D) -> y: (batch, T, D)
        n = len(x)
        q, k, v = self.per_head(self.qkv.forward(x))  # (batch, heads, T, dh) each
        probs, stats = self._probs.take(n), self._row_stats.take(n)
        np.matmul(q, k.swapaxes(-1, -2), out=probs)  # scores S: (batch, heads, T, T)
        probs *= 1 / math.sqrt(self.head_width)
        self.row_maxima(probs, stats)
        probs -= stats  # softmax(S) = softmax(S - max): exp stays <= 1
        np.exp(probs, out=probs)
        self.row_sums(probs, stats)
        probs /= stats  # P: each row sums to 1
        self._qkv_kept, self._probs_kept = (q, k, v), probs
        context = self._context.take(n)
        np.matmul(probs, v, out=self.heads_of(context))  # c = P @ v
        return self.project.forward(context)

    @property
    def attention_weights(self) -> np.ndarray:
        """P of the last forward pass (batch, heads, T, T): row i, how much token i took from
        each token (what the learner's view and the per-layer statistics look at)."""
        return self._probs_kept

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        # dy: (batch, T, D) -> dx: (batch, T, D)
        n, (q, k, v), probs = len(dy), self._qkv_kept, self._probs_kept
        dc = self.heads_of(self.project.backward(dy))  # (batch, heads, T, dh)
        dq, dk, dv = self.per_head(self._dqkv.take(n))
        np.matmul(probs.swapaxes(-1, -2), dc, out=dv)  # dv = P.T @ dc
        dprobs, stats = self._dprobs.take(n), self._row_stats.take(n)
        np.matmul(dc, v.swapaxes(-1, -2), out=dprobs)  # dP = dc @ v.T
        work = self._work.take(n)
        np.multiply(dprobs, probs, out=work)
        self.row_sums(work, stats)  # sum over keys of dP * P
        dprobs -= stats
        dprobs *= probs  # dS = P * (dP - sum(dP * P))
        dprobs *= 1 / math.sqrt(self.head_width)
        np.matmul(dprobs, k, out=dq)  # dq = dS @ k / sqrt(dh)
        np.matmul(dprobs.swapaxes(-1, -2), q, out=dk)  # dk = dS.T @ q / sqrt(dh)
        return self.qkv.backward(self._dqkv.take(n), need_dx)
