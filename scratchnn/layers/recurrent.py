"""What LSTM and GRU share: a cell stepped over time, and backpropagation through time.

A sequence ``x`` (batch, T, D) is read one step at a time; the cell keeps a hidden state
``h_t`` (batch, H) that each step updates from ``x_t`` and ``h_{t-1}`` through G gates
(LSTM: 4, GRU: 3). Every gate's pre-activation is ``x_t @ W + h_{t-1} @ U + b``, with all
gates side by side: ``W`` (D, G*H), ``U`` (H, G*H), ``b`` (G*H,). Only ``h_{t-1} @ U`` has to
wait for the previous step: ``x @ W + b`` for all T steps is ONE product before the loop, and
backward gathers ``dW``, ``dU``, ``db`` and ``dx`` in one product each after its loop.

The loops run over time-major arrays (T, batch, ...), so that step t is one block of memory;
the layer's input and output stay (batch, T, ...) as the contract wants (one transposed copy
each way). The cells (``lstm.py``, ``gru.py``) write one step forward and one step backward,
side by side; the loops over time are here.
"""

from typing import ClassVar

import numpy as np

from scratchnn.buffers import RowBuffer, StepBuffer
from scratchnn.initializers import Initializer, orthogonal
from scratchnn.layers.base import Arrays, Layer, LayerSpecError, Rng, Shape, require


def sigmoid_(a: np.ndarray) -> None:
    """``a = 1 / (1 + exp(-a))`` in place, as ``(1 + tanh(a / 2)) / 2``: no overflow of exp."""
    a *= 0.5
    np.tanh(a, out=a)
    a += 1
    a *= 0.5


def times_sigmoid_slope(da: np.ndarray, s: np.ndarray, work: np.ndarray) -> None:
    """``da *= s * (1 - s)``: through a sigmoid whose output is ``s``."""
    np.subtract(1, s, out=work)
    work *= s
    da *= work


def times_tanh_slope(da: np.ndarray, y: np.ndarray, work: np.ndarray) -> None:
    """``da *= 1 - y**2``: through a tanh whose output is ``y``."""
    np.multiply(y, y, out=work)
    np.subtract(1, work, out=work)
    da *= work


class Recurrent(Layer):
    """The loops over time of a recurrent layer of ``units`` (H) cells; see the module's
    docstring. Inputs (batch, T, D); outputs the last hidden state h_T (batch, H), or with
    ``return_sequences`` every h_t (batch, T, H), which another recurrent layer can read."""

    gates: ClassVar[int] = 0  # G: set by each cell
    weight_names = ("weights",)

    def __init__(self, units: int, return_sequences: bool = False) -> None:
        require(units >= 1, "units", units, "a recurrent layer needs at least 1 unit")
        self.units, self.return_sequences = units, return_sequences

    def output_shape_for(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 2:
            raise LayerSpecError(
                f"{self.type_name} needs sequences (steps, features), got {input_shape}: "
                "an image of 28 rows is input_shape [28, 28]"
            )
        self.steps, self.n_in = input_shape
        return (self.steps, self.units) if self.return_sequences else (self.units,)

    def param_shapes(self) -> dict[str, Shape]:
        gh = self.gates * self.units
        return {
            "weights": (self.n_in, gh),
            "recurrent_weights": (self.units, gh),
            "biases": (gh,),
        }

    def decayed_names(self) -> tuple[str, ...]:
        return ("weights", "recurrent_weights")

    def initialize(self, initializer: Initializer, rng: np.random.Generator) -> None:
        """``W`` from ``initializer``; each gate's block of ``U`` orthogonal (Saxe et al., 2014:
        repeated products with it neither grow nor shrink h); biases 0 (see the cells)."""
        super().initialize(initializer, rng)
        h = self.units
        for gate in range(self.gates):
            self.U[:, gate * h : (gate + 1) * h] = orthogonal((h, h), rng)

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        self.W, self.U, self.b = params["weights"], params["recurrent_weights"], params["biases"]
        self.dW, self.dU = grads["weights"], grads["recurrent_weights"]
        self.db = grads["biases"][None]  # (1, G*H), for the product ones @ da
        t, d, h, gh = self.steps, self.n_in, self.units, self.gates * self.units
        self._x_steps = StepBuffer(t, d, dtype)  # x_t: (T, batch, D)
        self._gates = StepBuffer(t, gh, dtype)  # pre-activations, then the gates: (T, batch, GH)
        self._hu = StepBuffer(t, gh, dtype)  # h_{t-1} @ U: (T, batch, GH)
        self._h = StepBuffer(t + 1, h, dtype)  # h_0 = 0, h_1 ... h_T: (T+1, batch, H)
        self._da = StepBuffer(t, gh, dtype)  # dL/d(pre-activations): (T, batch, GH)
        self._dx_steps = StepBuffer(t, d, dtype)
        self._dx = RowBuffer(self.input_shape, dtype)
        self._dh, self._dh_u = RowBuffer(h, dtype), RowBuffer(h, dtype)  # (batch, H) each
        self._work = RowBuffer(gh, dtype)
        self._ones = np.ones((1, 0), dtype=dtype)

    def work_per_row(self) -> int:
        gh = self.gates * self.units
        return super().work_per_row() + self.steps * (2 * self.n_in + 3 * gh + 3 * self.units)

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        # x: (batch, T, D) -> y: (batch, H), or (batch, T, H) with return_sequences
        n, d, gh = len(x), self.n_in, self.gates * self.units
        xs = self._x_steps.take(n)
        np.copyto(xs, x.transpose(1, 0, 2))  # (T, batch, D)
        a, hu, h = self._gates.take(n), self._hu.take(n), self._h.take(n)
        np.matmul(xs.reshape(-1, d), self.W, out=a.reshape(-1, gh))  # x @ W for every step
        a += self.b
        h[0] = 0
        self.gates_kept, self.hu_kept, self.h_kept = a, hu, h  # what the steps backward read
        self.start(n)
        for t in range(self.steps):
            np.matmul(h[t], self.U, out=hu[t])  # (batch, GH): the one product per step
            self.step(t, a[t], hu[t], h[t], h[t + 1])
        if not self.return_sequences:
            return h[-1]  # (batch, H), a view: backward needs only h_0 ... h_{T-1}
        y = self._y.take(n)
        np.copyto(y, h[1:].transpose(1, 0, 2))  # (batch, T, H)
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        # dy: (batch, H) or (batch, T, H) -> dx: (batch, T, D)
        n, d, h, gh = len(dy), self.n_in, self.units, self.gates * self.units
        da, dh, dh_u = self._da.take(n), self._dh.take(n), self._dh_u.take(n)
        dh[...] = 0 if self.return_sequences else dy  # dL/dh_T
        self.start_backward(n)
        for t in reversed(range(self.steps)):
            if self.return_sequences:
                dh += dy[:, t]  # h_t reaches the loss directly and through step t+1
            self.step_backward(t, dh, da[t])  # dh becomes the part of dL/dh_{t-1} not via U
            if t > 0:  # (h_0 = 0 is no parameter: nobody needs dL/dh_0)
                np.matmul(self.da_through_u(da)[t], self.U.T, out=dh_u)
                dh += dh_u  # dL/dh_{t-1}: (batch, H)
        rows = da.reshape(-1, gh)  # (T*batch, GH)
        h_before = self.h_kept[:-1].reshape(-1, h)  # h_0 ... h_{T-1}: (T*batch, H)
        np.matmul(h_before.T, self.da_through_u(da).reshape(-1, gh), out=self.dU)
        xs = self._x_steps.take(n).reshape(-1, d)
        np.matmul(xs.T, rows, out=self.dW)  # (D, GH)
        if self._ones.shape[1] < len(rows):
            self._ones = np.ones((1, len(rows)), dtype=self._ones.dtype)
        np.matmul(self._ones[:, : len(rows)], rows, out=self.db)
        if not need_dx:
            return None
        dx_steps = self._dx_steps.take(n)
        np.matmul(rows, self.W.T, out=dx_steps.reshape(-1, d))  # (T*batch, D)
        dx = self._dx.take(n)
        np.copyto(dx, dx_steps.transpose(1, 0, 2))  # (batch, T, D)
        return dx

    def da_through_u(self, da: np.ndarray) -> np.ndarray:
        """dL/d(h_{t-1} @ U) for all steps: the pre-activations' gradients, unless the cell
        multiplies ``h @ U`` by something first (GRU)."""
        return da

    def start(self, batch: int) -> None:
        """Set the cell's own state for a new sequence (LSTM: c_0 = 0)."""

    def start_backward(self, batch: int) -> None:
        """Set the cell's own gradient carried back through time (LSTM: dL/dc_T = 0)."""

    def step(
        self, t: int, a: np.ndarray, hu: np.ndarray, h_prev: np.ndarray, h: np.ndarray
    ) -> None:
        """One step forward: ``a`` (batch, GH) holds ``x_t @ W + b`` and becomes the gates,
        ``hu`` = ``h_prev @ U``; write ``h_t`` into ``h`` (batch, H)."""
        raise NotImplementedError

    def step_backward(self, t: int, dh: np.ndarray, da: np.ndarray) -> None:
        """One step backward: from ``dh`` = dL/dh_t, fill ``da`` (batch, GH) = dL/d(pre-
        activations of step t) and leave in ``dh`` the part of dL/dh_{t-1} that does not go
        through ``U`` (the loop adds that part)."""
        raise NotImplementedError
