"""Reading digit CSVs: a ``label`` column (optional in test files) and 784 pixel columns, 0-255.

Two layouts are read, told apart by their header: Kaggle's Digit Recognizer
(``label,pixel0,...,pixel783``; its test.csv has no label) and the ``mnist_train.csv`` layout
(``label,1x1,...,28x28``). Errors name the file, the line (1-based, the header is line 1) and
the column, as a text editor shows them.

Reading is two-speed. A clean file (every cell an integer that fits in a byte) is parsed by
pyarrow straight into uint8 columns: 1 byte per cell where inferred int64 columns would take 8,
and the cells are only checked once more for the label range. Anything else (a bad cell, a
missing field, an empty or unreadable file) falls back to the general path, which reads every
column as pandas infers it and names the first problem exactly.
"""

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from pipeline.artifacts import N_CLASSES, N_PIXELS
from pipeline.errors import PipelineError

LABEL_COLUMN = "label"


class DataError(PipelineError, ValueError):
    """An input file that cannot be used; the message says where and why."""


def normalise(pixels: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """uint8 pixels (n, 784) -> values in [0, 1] of ``dtype``, divided in that dtype.

    One pass: the ufunc converts each pixel to ``dtype`` (exactly) on its way into the division.
    """
    x = np.empty(pixels.shape, dtype=dtype)
    np.divide(pixels, dtype.type(255), out=x, dtype=dtype)
    return x


@dataclass(frozen=True)
class Digits:
    pixels: np.ndarray  # (n, 784) uint8, row-major 28x28 images
    labels: np.ndarray | None  # (n,) int64 in 0..9, or None for an unlabelled test file


def _first_bad_line(path: Path, n_columns: int) -> str:
    """Find the first line whose field count differs from the header's (slow; errors only)."""
    opener = pd.io.common.get_handle(
        path, "r", compression="infer", encoding="utf-8", errors="replace"
    )
    with opener as handle:
        for line_number, row in enumerate(csv.reader(handle.handle), start=1):
            if row and len(row) != n_columns:
                return f"line {line_number} has {len(row)} fields, the header has {n_columns}"
    return "the file could not be parsed as CSV"


def _read_frame(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, engine="pyarrow")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except (ValueError, UnicodeDecodeError, OSError) as error:
        try:
            with pd.io.common.get_handle(path, "r", compression="infer", errors="replace") as h:
                n_columns = len(next(csv.reader(io.StringIO(h.handle.readline()))))
        except (OSError, StopIteration, EOFError):
            raise DataError(f"{path}: not a readable CSV file ({error})") from None
        raise DataError(f"{path}: {_first_bad_line(path, n_columns)}") from None


def _check_integers(frame: pd.DataFrame, path: Path, low: int, high: int, noun: str) -> np.ndarray:
    """The frame as an int64 array, or an error naming the first bad cell's line and column."""
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_integer_dtype(values):
            continue
        numeric = pd.to_numeric(values, errors="coerce")
        bad = ~np.isfinite(numeric) | (numeric != np.floor(numeric))  # NaN, inf, 3.5, "x"
        row = int(np.flatnonzero(bad.to_numpy())[0])
        if str(values.iloc[row]) == str(column):
            raise DataError(f"{path}: line {row + 2} repeats the header line")
        raise DataError(
            f"{path}: line {row + 2}, column {column!r}: {values.iloc[row]!r} is not an integer "
            f"{noun}"
        )
    array = frame.to_numpy(dtype=np.int64)
    bad_cells = np.argwhere((array < low) | (array > high))
    if len(bad_cells):
        row, col = bad_cells[0]
        raise DataError(
            f"{path}: line {row + 2}, column {frame.columns[col]!r}: {array[row, col]} is outside "
            f"{low}..{high}, the range of a {noun}"
        )
    return array


def _read_header(path: Path) -> list[str]:
    """The column names on the first line (of a plain or compressed file)."""
    with pd.io.common.get_handle(path, "r", compression="infer", errors="replace") as handle:
        return next(csv.reader(io.StringIO(handle.handle.readline())))


def _read_clean(path: Path, require_labels: bool) -> Digits | None:
    """The fast path: the digits of a file with nothing to report, else None.

    Every column is parsed as uint8, so a cell that is not an integer or outside 0..255 makes
    pyarrow refuse the file; so do missing fields. Empty cells become nulls, also refused.
    The columns are then stacked into the row-major (n, 784) array: each written as a
    contiguous row of its transpose, then one copy.
    """
    try:
        header = _read_header(path)
        pixel_columns = [c for c in header if c != LABEL_COLUMN]
        has_labels = LABEL_COLUMN in header
        if len(set(header)) != len(header) or len(pixel_columns) != N_PIXELS:
            return None
        if require_labels and not has_labels:
            return None
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=4 << 20),  # 4 MB: fewer, longer chunks
            convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(header, pa.uint8())),
        )
    except (OSError, ValueError, UnicodeDecodeError, StopIteration, EOFError, csv.Error):
        return None  # pyarrow's ArrowInvalid is a ValueError
    if table.num_rows == 0 or any(column.null_count for column in table.columns):
        return None  # an empty cell reads as null
    labels = None
    if has_labels:
        labels = table.column(LABEL_COLUMN).to_numpy().astype(np.int64)
        if labels.max() >= N_CLASSES:
            return None
    columns = np.empty((N_PIXELS, table.num_rows), dtype=np.uint8)  # (784, n)
    for i, name in enumerate(pixel_columns):
        columns[i] = table.column(name).to_numpy()
    return Digits(pixels=np.ascontiguousarray(columns.T), labels=labels)


def _refuse_binary(path: Path) -> None:
    """A file with NUL bytes in its (decompressed) start is not text, let alone CSV."""
    try:
        with pd.io.common.get_handle(path, "rb", compression="infer", is_text=False) as handle:
            start = handle.handle.read(8192)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (OSError, EOFError) as error:  # e.g. a truncated or fake .gz
        raise DataError(f"{path}: cannot be read ({error})") from None
    if b"\0" in start:
        raise DataError(f"{path}: not a CSV file (it holds binary data)")


def read_digits_csv(path: str | Path, require_labels: bool) -> Digits:
    """Read and check a digit CSV; ``require_labels`` makes the label column mandatory."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected a CSV file")
    _refuse_binary(path)
    clean = _read_clean(path, require_labels)
    if clean is not None:
        return clean
    frame = _read_frame(path)
    has_labels = LABEL_COLUMN in frame.columns
    if require_labels and not has_labels:
        raise DataError(
            f"{path}: no {LABEL_COLUMN!r} column in the header (first columns: "
            f"{list(frame.columns[:3])}); a training file needs one"
        )
    pixel_columns = [c for c in frame.columns if c != LABEL_COLUMN]
    if len(pixel_columns) != N_PIXELS:
        raise DataError(
            f"{path}: the header has {len(pixel_columns)} pixel columns, expected {N_PIXELS} "
            f"(28x28) besides {LABEL_COLUMN!r}"
        )
    if len(frame) == 0:
        raise DataError(f"{path}: the header has no rows under it")
    pixels = _check_integers(frame[pixel_columns], path, 0, 255, "pixel value")
    labels = None
    if has_labels:
        labels = _check_integers(frame[[LABEL_COLUMN]], path, 0, N_CLASSES - 1, "label")
        labels = labels[:, 0]
    return Digits(pixels=pixels.astype(np.uint8), labels=labels)
