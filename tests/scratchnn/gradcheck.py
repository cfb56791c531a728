"""Central finite differences, the independent reference every backward pass is checked against."""

from collections.abc import Callable

import numpy as np


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f() / d x by central differences, perturbing ``x`` in place element by element."""
    grad = np.zeros_like(x)
    flat, grad_flat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        f_plus = f()
        flat[i] = saved - eps
        f_minus = f()
        flat[i] = saved
        grad_flat[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def assert_close(analytic: np.ndarray, numeric: np.ndarray, rtol: float = 1e-6) -> None:
    scale = max(np.abs(numeric).max(), 1e-8)
    assert np.abs(analytic - numeric).max() <= rtol * scale + 1e-9, (analytic, numeric)
