"""Stage ``prepare``: CSVs -> shuffled, normalised arrays that ``train`` loads in well under 1 s.

Writes into the prepared folder: ``{train,val,test}_x.npy`` (n, 784) in [0, 1] of the configured
dtype, ``{train,val,test}_y.npy`` (n,) int64 (no ``test_y.npy`` when the test CSV has no labels),
and ``info.json`` with the row and label counts.
"""

import time
from pathlib import Path

import numpy as np

from pipeline.cli import run_stage
from pipeline.config import Config, ConfigError, load_params, prepare_settings
from pipeline.data.artifacts import INFO_FILE, N_CLASSES, SPLITS
from pipeline.data.image_csv import DataError, normalise, read_digits_csv
from pipeline.io import atomic_dir, write_json


def label_counts(labels: np.ndarray) -> list[int]:
    return np.bincount(labels, minlength=N_CLASSES).tolist()


def check_fetched(cfg: Config) -> None:
    """A CSV of the raw-data folder that is not there yet is fetch's to write: say how (a
    sweep over ``data=fashion_mnist`` prepares but never fetches)."""
    for csv in (cfg.data.train_csv, cfg.data.test_csv):
        if Path(csv).parent == Path(cfg.paths.raw) and not Path(csv).exists():
            name = cfg.data.name.value
            raise DataError(
                f"{csv}: no such file; the fetch stage writes it: `dvc exp run -S data={name}` "
                "(or `dvc repro fetch` with this data.name in params.yaml)"
            )


def prepare(cfg: Config) -> dict:
    """Read both CSVs, split and write the arrays; returns what ``info.json`` holds."""
    check_fetched(cfg)
    dtype = np.dtype(cfg.dtype.value)
    train = read_digits_csv(cfg.data.train_csv, require_labels=True)
    test = read_digits_csv(cfg.data.test_csv, require_labels=False)
    assert train.labels is not None
    n = len(train.labels)
    if cfg.data.val_size >= n:
        raise ConfigError(
            f"data.val_size={cfg.data.val_size} is not allowed: it must be smaller than the "
            f"{n} rows of {cfg.data.train_csv}"
        )
    order = np.random.default_rng(cfg.data.seed).permutation(n)
    val_rows, train_rows = order[: cfg.data.val_size], order[cfg.data.val_size :]
    arrays = {
        "train_x": normalise(train.pixels[train_rows], dtype),
        "train_y": train.labels[train_rows],
        "val_x": normalise(train.pixels[val_rows], dtype),
        "val_y": train.labels[val_rows],
        "test_x": normalise(test.pixels, dtype),
    }
    if test.labels is not None:
        arrays["test_y"] = test.labels
    info = {
        "dtype": dtype.name,
        "rows": {split: len(arrays[f"{split}_x"]) for split in SPLITS},
        "label_counts": {
            split: label_counts(arrays[f"{split}_y"]) for split in SPLITS if f"{split}_y" in arrays
        },
        "test_labelled": test.labels is not None,
        "sources": {"train": cfg.data.train_csv, "test": cfg.data.test_csv},
        "data": prepare_settings(cfg.data),  # the settings these arrays were prepared with
    }
    needed = sum(array.nbytes for array in arrays.values())
    with atomic_dir(cfg.paths.prepared, "the prepared splits", needed) as folder:
        for name, array in arrays.items():
            np.save(folder / f"{name}.npy", array, allow_pickle=False)
        write_json(folder / INFO_FILE, info)
    return info


def main() -> None:
    started = time.perf_counter()
    cfg = load_params()
    info = prepare(cfg)
    rows = ", ".join(f"{split} {count:,}" for split, count in info["rows"].items())
    labelled = "" if info["test_labelled"] else " (test CSV has no labels)"
    print(
        f"prepare: {rows} rows{labelled} -> {cfg.paths.prepared} "
        f"in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    run_stage(main, takes_arguments=False)
