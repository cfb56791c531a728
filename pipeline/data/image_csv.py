"""Reading image CSVs: a ``label`` column (optional in test files) and 784 pixel columns, 0-255.

Three layouts are read, told apart by their header: Kaggle's Digit Recognizer
(``label,pixel0,...,pixel783``; its test.csv has no label), Kaggle's Fashion-MNIST
(``label,pixel1,...,pixel784``) and the ``mnist_train.csv`` layout (``label,1x1,...,28x28``,
which ``fetch`` also writes Fashion-MNIST in). ``label`` comes first and the pixel columns in
their order (a file whose columns were shuffled would otherwise be read as scrambled images).
Every cell is a plain decimal integer: ``5.0``, ``1e2``, ``+5`` or `` 5`` are refused, since a
file of floats (pixels scaled to [0, 1], say) would otherwise pass as nearly black images. The
text is UTF-8 (a byte-order mark is skipped), plain or compressed (``.csv.gz``), with LF, CRLF
or CR line ends. Errors name the file, the line (1-based, the header is line 1, as a text
editor counts) and the column.

Reading is two-speed. A file whose rows hold only digits, commas, quotes and line ends is
parsed by pyarrow straight into uint8 columns (1 byte per cell where inferred int64 columns
would take 8). Anything else, or anything pyarrow refuses (a missing field, an empty cell, a
value over 255), is read again by the plain path, which checks every cell in order and names
the first problem.
"""

import csv
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from pipeline.data.artifacts import N_CLASSES, N_PIXELS
from pipeline.errors import PipelineError

LABEL_COLUMN = "label"
LAYOUTS = {
    "Kaggle's (pixel0..pixel783)": [f"pixel{i}" for i in range(N_PIXELS)],
    "Kaggle's Fashion-MNIST (pixel1..pixel784)": [f"pixel{i}" for i in range(1, N_PIXELS + 1)],
    "MNIST's (1x1..28x28)": [f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)],
}
MNIST_LAYOUT = "MNIST's (1x1..28x28)"  # what write_images_csv writes
READ_ERRORS = (OSError, EOFError, zlib.error)  # unreadable, truncated or damaged compressed data
CHUNK = 4 << 20  # 4 MB
BODY_BYTES = b'0123456789,"\r\n'  # all that the rows of a file for the fast path may hold
INTEGER = re.compile(r"[0-9]+")
INTEGER_ROW = re.compile(r"[0-9]+(?:,[0-9]+)*")


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


def _compression(path: Path) -> str | None:
    """``gzip`` for a ``.gz`` name, else None; a name pandas would read with another compression
    (``.xz``, ``.zip``, ...) is refused: their damaged files fail in ways of their own, and one
    compressed format is enough."""
    compression = pd.io.common.infer_compression(path, "infer")
    if compression not in (None, "gzip"):
        raise DataError(
            f"{path}: {compression} files are not read: decompress it, or compress it with gzip"
            " (.csv.gz)"
        )
    return compression


def _binary(path: Path):
    """The file's bytes, decompressed if its name ends in ``.gz``."""
    return pd.io.common.get_handle(path, "rb", compression=_compression(path), is_text=False)


def _text(path: Path):
    """The file's text for the csv module (undecoded line ends; a byte-order mark skipped)."""
    return pd.io.common.get_handle(path, "r", compression=_compression(path), encoding="utf-8-sig")


def check_header(header: list[str], path: Path, require_labels: bool) -> bool:
    """Whether the file has labels; a header of neither layout is an error naming the column."""
    has_labels = bool(header) and header[0] == LABEL_COLUMN
    if LABEL_COLUMN in header[1:]:
        where = header.index(LABEL_COLUMN, 1) + 1
        raise DataError(f"{path}: {LABEL_COLUMN!r} is column {where}; it must be the first")
    if require_labels and not has_labels:
        raise DataError(
            f"{path}: no {LABEL_COLUMN!r} column in the header (first columns: "
            f"{header[:3]}); a training file needs one"
        )
    names = header[1:] if has_labels else header
    if len(names) != N_PIXELS:
        raise DataError(
            f"{path}: the header has {len(names)} pixel columns, expected {N_PIXELS} "
            f"(28x28) besides {LABEL_COLUMN!r}"
        )
    # the layout most of the names are in, so the first one out of place is the one named
    layout, expected = max(LAYOUTS.items(), key=lambda item: sum(map(str.__eq__, names, item[1])))
    for i, (name, wanted) in enumerate(zip(names, expected, strict=True)):
        if name != wanted:
            raise DataError(
                f"{path}: column {i + 1 + has_labels} of the header is {name!r}, expected "
                f"{wanted!r}: the pixel columns must be in {layout} order"
            )
    return has_labels


def _only_digits(start: bytes, rest: Iterator[bytes]) -> bool:
    """Whether ``start`` and every chunk of ``rest`` hold nothing but BODY_BYTES (one C loop
    deleting them per chunk: about 0.05 s for the 110 MB of MNIST's training CSV)."""
    return not start.translate(None, BODY_BYTES) and all(
        not chunk.translate(None, BODY_BYTES) for chunk in rest
    )


def _read_clean(path: Path, require_labels: bool) -> Digits | None:
    """The fast path: the digits of a file with nothing to report, else None.

    The header is checked here (its errors are exact); then, if the rows hold only digits,
    commas, quotes and line ends, pyarrow parses every column as uint8: anything else (a
    missing field, an empty cell, a value over 255) makes it refuse and the plain path report.
    The columns are stacked into the row-major (n, 784) array: each written as a contiguous
    row of its transpose, then one copy.
    """
    try:
        with _binary(path) as handle:
            start = handle.handle.read(CHUNK)
            end = start.find(b"\n")
            header_line = start[:end].decode("utf-8-sig").removesuffix("\r")
            if end < 1 or not header_line:
                return None
            header = next(csv.reader([header_line]))
            has_labels = check_header(header, path, require_labels)
            chunks = iter(lambda: handle.handle.read(CHUNK), b"")
            if not _only_digits(start[end + 1 :], chunks):
                return None
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=CHUNK),
            convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(header, pa.uint8())),
        )
    except DataError:
        raise
    except (*READ_ERRORS, ValueError, csv.Error):  # pyarrow's ArrowInvalid is a ValueError
        return None
    if table.num_rows == 0 or any(column.null_count for column in table.columns):
        return None  # an empty cell reads as null
    labels = None
    if has_labels:
        labels = table.column(LABEL_COLUMN).to_numpy().astype(np.int64)
        if labels.max() >= N_CLASSES:
            return None
    columns = np.empty((N_PIXELS, table.num_rows), dtype=np.uint8)  # (784, n)
    for i in range(N_PIXELS):
        columns[i] = table.column(i + has_labels).to_numpy()
    return Digits(pixels=np.ascontiguousarray(columns.T), labels=labels)


def write_images_csv(file: BinaryIO, pixels: np.ndarray, labels: np.ndarray) -> None:
    """Labelled images, (n, 784) uint8 and (n,) ints, to ``file`` as a CSV in MNIST's layout
    (``label,1x1,...,28x28``), LF line ends; pyarrow writes the 47 million cells in seconds."""
    header = [LABEL_COLUMN, *LAYOUTS[MNIST_LAYOUT]]
    columns = [pa.array(labels.astype(np.uint8)), *map(pa.array, pixels.T)]
    file.write((",".join(header) + "\n").encode())
    options = pa_csv.WriteOptions(include_header=False)
    pa_csv.write_csv(pa.Table.from_arrays(columns, names=header), file, options)


def _bad_cell(path: Path, line: int, name: str, cell: str, high: int) -> DataError:
    noun = "label" if name == LABEL_COLUMN else "pixel value"
    where = f"{path}: line {line}, column {name!r}"
    if re.fullmatch(r"\s*[+-]?[0-9]+\s*", cell):  # int() reads it, but not as written
        value = int(cell)
        if not 0 <= value <= high:
            return DataError(f"{where}: {value} is outside 0..{high}, the range of a {noun}")
        return DataError(f"{where}: {cell!r} is not a plain integer {noun}; write it as {value}")
    try:
        number = float(cell)
    except ValueError:
        number = None
    hint = f"; write it as {int(number)}" if number is not None and number.is_integer() else ""
    return DataError(f"{where}: {cell!r} is not an integer {noun}{hint}")


def _read_rows(path: Path, rows: Iterator[list[str]], header: list[str]) -> list[bytes]:
    """Every row as bytes (label first, if any), or an error at the first bad cell in order."""
    highs = [N_CLASSES - 1 if name == LABEL_COLUMN else 255 for name in header]
    read = []
    for row in rows:
        line = rows.line_num  # type: ignore[attr-defined]  (csv.reader's physical line)
        if not row:
            continue  # a blank line
        if row == header:
            raise DataError(f"{path}: line {line} repeats the header line")
        if len(row) != len(header):
            raise DataError(
                f"{path}: line {line} has {len(row)} fields, the header has {len(header)}"
            )
        if INTEGER_ROW.fullmatch(",".join(row)):
            values = list(map(int, row))
            if all(v <= high for v, high in zip(values, highs, strict=True)):
                read.append(bytes(values))
                continue
        for name, cell, high in zip(header, row, highs, strict=True):
            if not INTEGER.fullmatch(cell) or int(cell) > high:
                raise _bad_cell(path, line, name, cell, high)
    return read


def _read_plain(path: Path, require_labels: bool) -> Digits:
    """The plain path: every row through the csv module, the first problem named exactly."""
    line = 1
    try:
        with _text(path) as handle:
            rows = csv.reader(handle.handle)
            header = next((row for row in rows if row), None)
            if header is None:
                raise DataError(f"{path}: the file is empty")
            has_labels = check_header(header, path, require_labels)
            line = rows.line_num
            read = _read_rows(path, rows, header)
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: after line {line}: not UTF-8 text ({error.reason})") from None
    except csv.Error as error:
        raise DataError(f"{path}: line {rows.line_num + 1}: {error}") from None
    except READ_ERRORS as error:
        raise DataError(f"{path}: cannot be read ({error})") from None
    if not read:
        raise DataError(f"{path}: the header has no rows under it")
    values = np.frombuffer(b"".join(read), dtype=np.uint8).reshape(len(read), len(header))
    if not has_labels:
        return Digits(pixels=values.copy(), labels=None)
    return Digits(pixels=values[:, 1:].copy(), labels=values[:, 0].astype(np.int64))


def _refuse_binary(path: Path) -> None:
    """A file with NUL bytes in its (decompressed) start is not text, let alone CSV."""
    try:
        with _binary(path) as handle:
            start = handle.handle.read(8192)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except READ_ERRORS as error:  # e.g. a truncated or fake .gz
        raise DataError(f"{path}: cannot be read ({error})") from None
    if b"\0" in start:
        raise DataError(f"{path}: not a CSV file (it holds binary data)")


def read_digits_csv(path: str | Path, require_labels: bool) -> Digits:
    """Read and check a digit CSV; ``require_labels`` makes the label column mandatory."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected a CSV file")
    _refuse_binary(path)
    return _read_clean(path, require_labels) or _read_plain(path, require_labels)
