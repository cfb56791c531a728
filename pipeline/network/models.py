"""Trained models as the stages use them: loaded for MNIST's shapes, and their probabilities."""

from pathlib import Path

import numpy as np

import scratchnn as sn
from pipeline.data.artifacts import N_CLASSES, N_PIXELS


def load_model(path: str | Path, dtype: np.dtype | type | None = None) -> sn.Network:
    """A model for 784-pixel digits in 10 classes: an ``.npz`` from ``train`` or a folder in the
    original script's layout; in the file's own dtype unless ``dtype`` is given."""
    return sn.load_weights(path, dtype=dtype, n_inputs=N_PIXELS, n_outputs=N_CLASSES)


def probabilities(network: sn.Network, x: np.ndarray, chunk_size: int = 8192) -> np.ndarray:
    """Softmax of the network's logits: (n, n_in) -> (n, n_classes), rows summing to 1."""
    out = np.empty((len(x), network.n_outputs), dtype=network.dtype)
    for start in range(0, len(x), chunk_size):
        logits = network.forward(x[start : start + chunk_size])
        shifted = logits - logits.max(axis=1, keepdims=True)  # a new array: forward reuses its
        np.exp(shifted, out=shifted)
        out[start : start + chunk_size] = shifted / shifted.sum(axis=1, keepdims=True)
    return out
