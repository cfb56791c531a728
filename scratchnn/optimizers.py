"""Optimisers: ``step(params, grads, lr)`` updates the flat parameter array in place.

All parameters of a network live in one contiguous array (see ``network.Network``), so each
update below is a handful of whole-array passes, written with ``out=`` or in place into work
arrays allocated at the first step: a step makes no temporaries, and never a float64 one for
float32 parameters (Python floats are "weak" scalars that take the array's dtype).
``state()`` returns the arrays and counters a checkpoint needs to resume exactly.
"""

import math
from typing import Protocol

import numpy as np

from scratchnn.denormals import DenormalFlusher


class Optimizer(Protocol):
    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None: ...

    def state(self) -> dict[str, np.ndarray]: ...

    def load_state(self, state: dict[str, np.ndarray]) -> None: ...


class SGD:
    """Plain gradient descent: ``params -= lr * grads`` (2 passes)."""

    def __init__(self) -> None:
        self._update: np.ndarray | None = None

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        if self._update is None:
            self._update = np.empty_like(params)
        np.multiply(grads, lr, out=self._update)
        params -= self._update

    def state(self) -> dict[str, np.ndarray]:
        return {}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        pass


class Momentum:
    """Gradient descent with (heavy-ball) momentum (4 passes):
    ``velocity = momentum * velocity - lr * grads``; ``params += velocity``.
    """

    def __init__(self, momentum: float = 0.9) -> None:
        self.momentum = momentum
        self.velocity: np.ndarray | None = None
        self._update: np.ndarray | None = None

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        if self.velocity is None or self._update is None:
            self.velocity = np.zeros_like(params)
            self._update = np.empty_like(params)
        np.multiply(grads, lr, out=self._update)
        self.velocity *= self.momentum
        self.velocity -= self._update
        params += self.velocity

    def state(self) -> dict[str, np.ndarray]:
        return {} if self.velocity is None else {"velocity": self.velocity.copy()}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        if "velocity" in state:
            self.velocity = state["velocity"].copy()
            self._update = np.empty_like(self.velocity)


class Adam:
    """Adam (Kingma & Ba, 2015), with bias correction at step t = 1, 2, ...:

        m = beta1 * m + (1 - beta1) * g          a moving average of the gradient
        v = beta2 * v + (1 - beta2) * g**2       and of its square
        params -= lr * m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - beta1**t)
                                                     v_hat = v / (1 - beta2**t)

    Computed as the same formula rearranged, so that a step is 10 passes over the flat arrays
    rather than the 13 of the lines above. It keeps the moving *sums*
    ``m_sum = m / (1 - beta1)`` and ``v_sum = v / (1 - beta2)``, and folds every per-step
    constant into two Python floats (as the paper suggests at the end of its section 2):

        m_sum = beta1 * m_sum + g                          2 passes
        v_sum = beta2 * v_sum + g**2                       3 passes
        params -= lr_t * m_sum / (sqrt(v_sum) + eps_t)     5 passes
        where c = sqrt((1 - beta2**t) / (1 - beta2)), lr_t = lr * (1 - beta1) / (1 - beta1**t) * c
        and eps_t = eps * c

    (put ``m = (1 - beta1) * m_sum`` and ``v = (1 - beta2) * v_sum`` into the first form, so that
    ``sqrt(v_hat) = sqrt(v_sum) / c``, and multiply the fraction's top and bottom by ``c``).

    Every ``flush_every`` steps, entries of the sums and of the parameters that have shrunk into
    the subnormal range are set to zero (see ``denormals``): the weights of always-blank pixels
    decay towards zero and would otherwise keep thousands of subnormal numbers in every pass,
    slow on many CPUs. Once zero they stay zero (their gradient is then exactly zero), so an
    occasional flush suffices: on MNIST, every 64 steps leaves a few hundred subnormal entries
    where there would be about 19,000, for 9 passes per 64 steps. Zero turns this off.
    """

    def __init__(
        self,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        flush_every: int = 64,
    ) -> None:
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.flush_every = flush_every
        self.t = 0
        self.m_sum: np.ndarray | None = None
        self.v_sum: np.ndarray | None = None
        self._work: np.ndarray | None = None
        self._flush: DenormalFlusher | None = None

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        if self.m_sum is None or self.v_sum is None:
            self.m_sum = np.zeros_like(params)
            self.v_sum = np.zeros_like(params)
        if self._work is None or self._flush is None:
            self._work = np.empty_like(params)
            self._flush = DenormalFlusher(params)
        m_sum, v_sum, work = self.m_sum, self.v_sum, self._work
        self.t += 1
        # m_sum = beta1 * m_sum + g
        m_sum *= self.beta1
        m_sum += grads
        # v_sum = beta2 * v_sum + g**2
        v_sum *= self.beta2
        np.multiply(grads, grads, out=work)
        v_sum += work
        # params -= lr_t * m_sum / (sqrt(v_sum) + eps_t), the scalars as Python floats, which
        # take the arrays' dtype: no float64 pass over float32 arrays
        c = math.sqrt((1 - self.beta2**self.t) / (1 - self.beta2))
        np.sqrt(v_sum, out=work)
        work += self.eps * c
        np.divide(m_sum, work, out=work)
        work *= lr * (1 - self.beta1) / (1 - self.beta1**self.t) * c
        params -= work
        if self.flush_every and self.t % self.flush_every == 0:
            for array in (m_sum, v_sum, params):
                self._flush(array)

    def state(self) -> dict[str, np.ndarray]:
        if self.m_sum is None or self.v_sum is None:
            return {"t": np.array(self.t)}
        return {"t": np.array(self.t), "m_sum": self.m_sum.copy(), "v_sum": self.v_sum.copy()}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.t = int(state["t"])
        if "m_sum" in state:
            self.m_sum = state["m_sum"].copy()
            self.v_sum = state["v_sum"].copy()
        elif "m" in state:  # a state saved when Adam kept the averages m and v themselves
            self.m_sum = state["m"] / (1 - self.beta1)
            self.v_sum = state["v"] / (1 - self.beta2)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): before each Adam step the
    decayed parameters shrink by a factor of their own,

        params[mask] *= 1 - lr * weight_decay        then the Adam step above

    instead of ``weight_decay * params`` being added to the gradient, where Adam's division by
    ``sqrt(v_hat)`` would weaken the decay of exactly the weights with large gradients. ``mask``
    (bool, the shape of ``params``) says which entries decay: ``network.decay_mask``, the
    weights but not the biases nor the normalisation parameters. ``None`` decays every entry.
    The decay is one masked pass; with ``weight_decay=0`` this is Adam, bit for bit.
    """

    def __init__(
        self,
        weight_decay: float = 0.01,
        mask: np.ndarray | None = None,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        flush_every: int = 64,
    ) -> None:
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay={weight_decay!r}: it must be >= 0")
        super().__init__(beta1, beta2, eps, flush_every)
        self.weight_decay = weight_decay
        self.mask = None if mask is None else np.asarray(mask, dtype=bool)

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        if self.mask is not None and self.mask.shape != params.shape:
            raise ValueError(f"the decay mask {self.mask.shape} does not fit params {params.shape}")
        if self.weight_decay:
            shrink = 1 - lr * self.weight_decay  # a Python float: it takes params' dtype
            where = True if self.mask is None else self.mask
            np.multiply(params, shrink, out=params, where=where)
        super().step(params, grads, lr)
