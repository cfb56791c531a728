"""Optimisers: ``step(params, grads, lr)`` updates the flat parameter array in place.

Every update is written with ``out=`` into a work array allocated once, so a step makes no
temporaries. ``state()`` returns the arrays and counters a checkpoint needs to resume exactly.
"""

import math
from typing import Protocol

import numpy as np


class Optimizer(Protocol):
    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None: ...

    def state(self) -> dict[str, np.ndarray]: ...

    def load_state(self, state: dict[str, np.ndarray]) -> None: ...


class SGD:
    """Plain gradient descent: ``params -= lr * grads``."""

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
    """Gradient descent with (heavy-ball) momentum:
    ``velocity = momentum * velocity - lr * grads``; ``params += velocity``.
    """

    def __init__(self, momentum: float = 0.9) -> None:
        self.momentum = momentum
        self.velocity: np.ndarray | None = None
        self._update: np.ndarray | None = None

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        if self.velocity is None:
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

    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    params -= lr * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps)
    """

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.t = 0
        self.m: np.ndarray | None = None
        self.v: np.ndarray | None = None
        self._work: np.ndarray | None = None

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        if self.m is None or self.v is None or self._work is None:
            self.m = np.zeros_like(params)
            self.v = np.zeros_like(params)
            self._work = np.empty_like(params)
        m, v, work = self.m, self.v, self._work
        self.t += 1
        # m = beta1 * m + (1 - beta1) * g
        m *= self.beta1
        np.multiply(grads, 1 - self.beta1, out=work)
        m += work
        # v = beta2 * v + (1 - beta2) * g**2
        v *= self.beta2
        np.multiply(grads, grads, out=work)
        work *= 1 - self.beta2
        v += work
        # work = sqrt(v_hat) + eps, then the step lr * m_hat / work
        np.sqrt(v, out=work)
        work *= 1 / math.sqrt(1 - self.beta2**self.t)  # a Python float: no float64 pass
        work += self.eps
        np.divide(m, work, out=work)
        work *= lr / (1 - self.beta1**self.t)
        params -= work

    def state(self) -> dict[str, np.ndarray]:
        if self.m is None or self.v is None:
            return {"t": np.array(self.t)}
        return {"t": np.array(self.t), "m": self.m.copy(), "v": self.v.copy()}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.t = int(state["t"])
        if "m" in state:
            self.m = state["m"].copy()
            self.v = state["v"].copy()
            self._work = np.empty_like(self.m)
