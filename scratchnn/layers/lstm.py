"""Long short-term memory (Hochreiter & Schmidhuber, 1997, with the forget gate of Gers et al.,
2000), one step forward and one step backward; the loops over time are in ``recurrent.py``."""

import numpy as np

from scratchnn.buffers import RowBuffer, StepBuffer
from scratchnn.initializers import Initializer
from scratchnn.layers.base import Arrays, register
from scratchnn.layers.recurrent import (
    Recurrent,
    sigmoid_,
    times_sigmoid_slope,
    times_tanh_slope,
)


@register("lstm")
class LSTM(Recurrent):
    """A cell state ``c`` beside ``h``, written and read through gates. The pre-activations
    ``a = x_t @ W + h_{t-1} @ U + b`` (batch, 4H) hold four blocks of H, in the order

        i = sigmoid(a_i)  input gate      f = sigmoid(a_f)  forget gate
        o = sigmoid(a_o)  output gate     g = tanh(a_g)     candidate values

        c_t = f * c_{t-1} + i * g,        h_t = o * tanh(c_t)

    (the three sigmoids side by side: one pass). Backward, with dh = dL/dh_t and dc = dL/dc_t
    (the carry from step t+1 plus the part through h_t):

        dc += dh * o * (1 - tanh(c_t)**2)
        da_i = dc * g * i(1-i)     da_f = dc * c_{t-1} * f(1-f)
        da_o = dh * tanh(c_t) * o(1-o)     da_g = dc * i * (1 - g**2)
        dL/dc_{t-1} = dc * f,  dL/dh_{t-1} = da @ U.T

    The forget gate's biases start at 1 (Jozefowicz et al., 2015): the cell remembers by
    default, and gradients reach the first rows of the image from the start.
    """

    gates = 4

    def initialize(self, initializer: Initializer, rng: np.random.Generator) -> None:
        super().initialize(initializer, rng)
        self.b[self.units : 2 * self.units] = 1.0  # the forget gate's block

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        self._c = StepBuffer(self.steps + 1, self.units, dtype)  # c_0 = 0 ... c_T
        self._tanh_c = StepBuffer(self.steps, self.units, dtype)  # tanh(c_1) ... tanh(c_T)
        self._dc = RowBuffer(self.units, dtype)

    def work_per_row(self) -> int:
        return super().work_per_row() + 2 * (self.steps + 1) * self.units

    def start(self, batch: int) -> None:
        self.c, self.tanh_c = self._c.take(batch), self._tanh_c.take(batch)
        self.c[0] = 0

    def step(
        self, t: int, a: np.ndarray, hu: np.ndarray, h_prev: np.ndarray, h: np.ndarray
    ) -> None:
        # a, hu: (batch, 4H); h_prev, h: (batch, H)
        n, h3 = self.units, 3 * self.units
        a += hu
        sigmoid_(a[:, :h3])  # i, f, o
        np.tanh(a[:, h3:], out=a[:, h3:])  # g
        i, f, o, g = a[:, :n], a[:, n : 2 * n], a[:, 2 * n : h3], a[:, h3:]
        c, ig = self.c[t + 1], self._work.take(len(a))[:, :n]
        np.multiply(f, self.c[t], out=c)
        np.multiply(i, g, out=ig)
        c += ig  # c_t = f * c_{t-1} + i * g
        np.tanh(c, out=self.tanh_c[t])
        np.multiply(o, self.tanh_c[t], out=h)  # h_t = o * tanh(c_t)

    def start_backward(self, batch: int) -> None:
        self.dc = self._dc.take(batch)
        self.dc[...] = 0

    def step_backward(self, t: int, dh: np.ndarray, da: np.ndarray) -> None:
        # dh: (batch, H) -> da: (batch, 4H); dh then 0: h_{t-1} reaches the loss only via U
        n, h3, dc = self.units, 3 * self.units, self.dc
        gates, tanh_c, work = self.gates_kept[t], self.tanh_c[t], self._work.take(len(dh))
        i, f, o, g = gates[:, :n], gates[:, n : 2 * n], gates[:, 2 * n : h3], gates[:, h3:]
        np.multiply(dh, tanh_c, out=da[:, 2 * n : h3])  # dL/do
        np.multiply(dh, o, out=dh)
        times_tanh_slope(dh, tanh_c, work[:, :n])
        dc += dh  # dL/dc_t
        np.multiply(dc, g, out=da[:, :n])  # dL/di
        np.multiply(dc, self.c[t], out=da[:, n : 2 * n])  # dL/df
        times_sigmoid_slope(da[:, :h3], gates[:, :h3], work[:, :h3])
        np.multiply(dc, i, out=da[:, h3:])  # dL/dg
        times_tanh_slope(da[:, h3:], g, work[:, :n])
        dc *= f  # dL/dc_{t-1}
        dh[...] = 0
