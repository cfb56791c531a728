"""Weight initialisers: functions ``(shape, rng) -> float64 array``.

Every initialiser draws in float64 and the network casts to its own dtype, so a float32 and a
float64 network built from the same seed start from the same numbers (up to rounding).

The fans of a weight array: a Dense layer's ``(n_in, n_out)`` has ``fan_in = n_in`` and
``fan_out = n_out``; a convolution's ``(k, k, c_in, filters)`` has ``fan_in = k*k*c_in`` (the
inputs one output value sums over) and ``fan_out = k*k*filters`` (the outputs one input value
reaches). In general the last axis is the outputs and the ones before it are summed over.
"""

import math
from collections.abc import Callable

import numpy as np

Initializer = Callable[[tuple[int, ...], np.random.Generator], np.ndarray]


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight array of ``shape`` (see the module's docstring)."""
    receptive_field = math.prod(shape[:-2])  # k*k for a kernel, 1 for a Dense matrix
    return math.prod(shape[:-1]), receptive_field * shape[-1]


def scaled_normal(
    shape: tuple[int, ...], rng: np.random.Generator, scale: float = 0.10
) -> np.ndarray:
    """``scale * N(0, 1)``: the original script's ``0.10 * np.random.randn(n_in, n_out)``."""
    return scale * rng.standard_normal(shape)


def he_normal(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """He et al. (2015): ``N(0, 2 / fan_in)``, which keeps activations' variance through ReLUs."""
    fan_in, _ = fans(shape)
    return np.sqrt(2.0 / fan_in) * rng.standard_normal(shape)


def he_uniform(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """He et al.'s variance, drawn uniformly: ``U(-a, a)``, ``a = sqrt(6 / fan_in)``."""
    fan_in, _ = fans(shape)
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, shape)


def lecun_normal(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """LeCun et al. (1998): ``N(0, 1 / fan_in)``, for tanh-like activations (and SELU)."""
    fan_in, _ = fans(shape)
    return np.sqrt(1.0 / fan_in) * rng.standard_normal(shape)


def glorot_normal(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Glorot & Bengio (2010), "Xavier": ``N(0, 2 / (fan_in + fan_out))``, which keeps the
    variance of activations going forward and of gradients going back, for sigmoid/tanh."""
    fan_in, fan_out = fans(shape)
    return np.sqrt(2.0 / (fan_in + fan_out)) * rng.standard_normal(shape)


def glorot_uniform(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Glorot & Bengio's uniform form: ``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape)


def orthogonal(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Saxe et al. (2014): a matrix with orthonormal rows or columns (whichever are fewer), the
    Q of a QR decomposition of a standard normal one, its signs fixed so that Q is uniformly
    distributed. For a recurrent weight: ``h @ Q`` keeps the length of ``h``. Weights of more
    than 2 axes are drawn as a (fan_in, last axis) matrix."""
    rows, cols = math.prod(shape[:-1]), shape[-1]
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))
    return (q if rows >= cols else q.T).reshape(shape)


INITIALIZERS: dict[str, Initializer] = {
    "scaled_normal": scaled_normal,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "lecun_normal": lecun_normal,
    "glorot_normal": glorot_normal,
    "glorot_uniform": glorot_uniform,
    "orthogonal": orthogonal,
    "xavier_normal": glorot_normal,  # the same initialiser under its other common name
    "xavier_uniform": glorot_uniform,
}
