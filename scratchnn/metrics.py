"""Classification metrics on integer labels."""

import numpy as np


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows where ``predicted == labels`` (both (n,) integer arrays)."""
    return float(np.mean(predicted == labels))


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts; row = true label, column = predicted label."""
    flat = labels.astype(np.int64) * n_classes + predicted.astype(np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
