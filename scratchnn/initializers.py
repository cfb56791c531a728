"""Weight initialisers: functions ``(shape, rng) -> float64 array``.

Every initialiser draws in float64 and the network casts to its own dtype, so a float32 and a
float64 network built from the same seed start from the same numbers (up to rounding).
"""

from collections.abc import Callable

import numpy as np

Initializer = Callable[[tuple[int, int], np.random.Generator], np.ndarray]


def scaled_normal(
    shape: tuple[int, int], rng: np.random.Generator, scale: float = 0.10
) -> np.ndarray:
    """``scale * N(0, 1)``: the original script's ``0.10 * np.random.randn(n_in, n_out)``."""
    return scale * rng.standard_normal(shape)


def he_normal(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """He et al. (2015): ``N(0, 2 / n_in)``, which keeps activations' variance through ReLUs."""
    n_in = shape[0]
    return np.sqrt(2.0 / n_in) * rng.standard_normal(shape)


INITIALIZERS: dict[str, Initializer] = {
    "scaled_normal": scaled_normal,
    "he_normal": he_normal,
}
