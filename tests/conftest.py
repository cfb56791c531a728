"""Shared test helpers: small generated digit CSVs in both layouts."""

from pathlib import Path

import numpy as np
import pytest

N_PIXELS = 784


def digit_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` learnable fake digits: each class is a fixed random pattern (the same for every
    seed, so a training and a test file agree on what a "3" is) plus noise drawn from ``seed``.

    Returns pixels (n, 784) int in 0..255 and labels (n,) in 0..9, every class present.
    """
    prototypes = np.random.default_rng(12345).integers(0, 256, size=(10, N_PIXELS))
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    noise = rng.integers(-60, 61, size=(n, N_PIXELS))
    return np.clip(prototypes[labels] + noise, 0, 255), labels


def write_digits_csv(
    path: Path,
    n: int,
    *,
    layout: str = "mnist",
    labelled: bool = True,
    seed: int = 0,
    line_ending: str = "\n",
) -> tuple[np.ndarray, np.ndarray]:
    """Write a digit CSV in the ``mnist`` (label,1x1..28x28) or ``kaggle`` (label,pixel0..)
    layout; return what was written."""
    pixels, labels = digit_images(n, seed)
    if layout == "mnist":
        names = [f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)]
    else:
        names = [f"pixel{i}" for i in range(N_PIXELS)]
    header = (["label"] if labelled else []) + names
    rows = [",".join(header)]
    for label, row in zip(labels, pixels, strict=True):
        cells = ([str(label)] if labelled else []) + [str(v) for v in row]
        rows.append(",".join(cells))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((line_ending.join(rows) + line_ending).encode())
    return pixels, labels


@pytest.fixture
def small_csvs(tmp_path: Path) -> tuple[Path, Path]:
    """A 300-row training CSV and a 100-row test CSV (mnist layout) in tmp_path/csv."""
    train, test = tmp_path / "csv" / "train.csv", tmp_path / "csv" / "test.csv"
    write_digits_csv(train, 300, seed=1)
    write_digits_csv(test, 100, seed=2)
    return train, test
