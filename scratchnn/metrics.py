"""Classification metrics on integer labels."""

import numpy as np


def check_labels(labels: np.ndarray, n_classes: int, where: str) -> None:
    """Refuse anything but integer class labels ``0 .. n_classes - 1``: used as an index, a
    label -1 would silently pick the last class, and 10 of 10 classes another row's cell."""
    if labels.dtype.kind not in "iu":
        raise ValueError(f"{where}: labels must be integers, not {labels.dtype}")
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        row = int(np.flatnonzero((labels < 0) | (labels >= n_classes))[0])
        raise ValueError(
            f"{where}: label {labels[row]} (row {row}) is not a class 0..{n_classes - 1}"
        )


def _same_length(predicted: np.ndarray, labels: np.ndarray, where: str) -> None:
    if predicted.shape != labels.shape or predicted.ndim != 1:
        raise ValueError(
            f"{where}: predicted {predicted.shape} and labels {labels.shape} must be two (n,) rows"
        )


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows where ``predicted == labels`` (both (n,) integer arrays)."""
    _same_length(predicted, labels, "accuracy")
    return float(np.mean(predicted == labels))


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts; row = true label, column = predicted label."""
    _same_length(predicted, labels, "confusion_matrix")
    check_labels(labels, n_classes, "confusion_matrix (labels)")
    check_labels(predicted, n_classes, "confusion_matrix (predicted)")
    flat = labels.astype(np.int64) * n_classes + predicted.astype(np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
