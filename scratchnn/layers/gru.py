"""Gated recurrent unit (Cho et al., 2014), one step forward and one step backward; the loops
over time are in ``recurrent.py``."""

import numpy as np

from scratchnn.buffers import StepBuffer
from scratchnn.layers.base import Arrays, register
from scratchnn.layers.recurrent import (
    Recurrent,
    sigmoid_,
    times_sigmoid_slope,
    times_tanh_slope,
)


@register("gru")
class GRU(Recurrent):
    """No cell state: ``h`` itself is carried, mixed with a candidate by an update gate. With
    ``xw = x_t @ W + b`` and ``hu = h_{t-1} @ U`` (batch, 3H each; blocks z, r, n of H):

        z = sigmoid(xw_z + hu_z)   update gate      r = sigmoid(xw_r + hu_r)   reset gate
        n = tanh(xw_n + r * hu_n)  candidate
        h_t = (1 - z) * n + z * h_{t-1}

    The reset gate multiplies ``h_{t-1} @ U_n`` rather than ``h_{t-1}`` (as cuDNN and PyTorch
    do), so the step needs one product, ``h_{t-1} @ U``, for all three blocks. Backward, with
    dh = dL/dh_t:

        da_z = dh * (h_{t-1} - n) * z(1-z)      da_n = dh * (1 - z) * (1 - n**2)
        da_r = da_n * hu_n * r(1-r)
        dL/dh_{t-1} = dh * z + [da_z, da_r, da_n * r] @ U.T

    so the gradient through ``U`` (``da_through_u``) differs from da in its n block.
    """

    gates = 3

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        self._da_u = StepBuffer(self.steps, 3 * self.units, dtype)  # (T, batch, 3H)

    def work_per_row(self) -> int:
        return super().work_per_row() + self.steps * 3 * self.units

    def step(
        self, t: int, a: np.ndarray, hu: np.ndarray, h_prev: np.ndarray, h: np.ndarray
    ) -> None:
        # a, hu: (batch, 3H); h_prev, h: (batch, H)
        n2 = 2 * self.units
        a[:, :n2] += hu[:, :n2]
        sigmoid_(a[:, :n2])  # z, r
        z, r, cand = a[:, : self.units], a[:, self.units : n2], a[:, n2:]
        r_hu = self._work.take(len(a))[:, : self.units]
        np.multiply(r, hu[:, n2:], out=r_hu)
        cand += r_hu
        np.tanh(cand, out=cand)  # n
        np.subtract(h_prev, cand, out=h)
        h *= z
        h += cand  # h_t = n + z * (h_{t-1} - n)

    def start_backward(self, batch: int) -> None:
        self.da_u = self._da_u.take(batch)

    def step_backward(self, t: int, dh: np.ndarray, da: np.ndarray) -> None:
        # dh: (batch, H) -> da: (batch, 3H); dh then dh * z
        n1, n2 = self.units, 2 * self.units
        gates, work = self.gates_kept[t], self._work.take(len(dh))
        z, r, cand = gates[:, :n1], gates[:, n1:n2], gates[:, n2:]
        np.subtract(self.h_kept[t], cand, out=da[:, :n1])
        da[:, :n1] *= dh  # dL/dz
        np.subtract(1, z, out=da[:, n2:])
        da[:, n2:] *= dh  # dL/dn
        times_tanh_slope(da[:, n2:], cand, work[:, :n1])  # da_n
        np.multiply(da[:, n2:], self.hu_kept[t][:, n2:], out=da[:, n1:n2])  # dL/dr
        times_sigmoid_slope(da[:, :n2], gates[:, :n2], work[:, :n2])
        da_u = self.da_u[t]
        np.copyto(da_u[:, :n2], da[:, :n2])
        np.multiply(da[:, n2:], r, out=da_u[:, n2:])
        dh *= z

    def da_through_u(self, da: np.ndarray) -> np.ndarray:
        return self.da_u
