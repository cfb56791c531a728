"""An independent, deliberately plain reader of digit CSVs: the fuzz tests' oracle.

It states what ``pipeline.data.image_csv`` is meant to accept, in the simplest code that says it,
with no pandas and no pyarrow: optionally gzip-compressed UTF-8 text (a leading byte-order mark
allowed), lines ending in LF, CRLF or CR, blank lines ignored; a header that is exactly one of
the three layouts, ``label`` first when there is one; then at least one row of as many fields,
every cell a plain decimal integer (ASCII digits only: no sign, no point, no exponent, no
spaces), labels 0..9 and pixels 0..255. A cell or name may be in double quotes (R's
``write.csv`` quotes the header).
"""

import gzip
import re
import zlib
from dataclasses import dataclass

import numpy as np

MNIST_NAMES = [f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)]
KAGGLE_NAMES = [f"pixel{i}" for i in range(784)]
KAGGLE_FASHION_NAMES = [f"pixel{i}" for i in range(1, 785)]
INTEGER = re.compile(r"[0-9]+")


@dataclass
class Refused(Exception):
    """Why the file is refused; ``line`` (1-based, physical) and ``column`` where a cell is."""

    reason: str
    line: int | None = None
    column: str | None = None
    cell: str | None = None


def decode(raw: bytes, compressed: bool) -> str:
    if compressed:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise Refused(f"not gzip: {error}") from None
    if b"\0" in raw:
        raise Refused("binary")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("not UTF-8") from None
    return text.removeprefix("\ufeff")


def unquote(cell: str) -> str:
    if len(cell) >= 2 and cell[0] == cell[-1] == '"' and '"' not in cell[1:-1]:
        return cell[1:-1]
    return cell


def read(
    raw: bytes, compressed: bool, require_labels: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """(pixels (n, 784) uint8, labels (n,) int64 or None), or raise ``Refused``."""
    lines = [
        (number, line)
        for number, line in enumerate(re.split(r"\r\n|\r|\n", decode(raw, compressed)), start=1)
        if line
    ]
    if not lines:
        raise Refused("empty")
    _, header_line = lines[0]
    header = [unquote(name) for name in header_line.split(",")]
    labelled = header[0] == "label"
    names = header[1:] if labelled else header
    if names not in (MNIST_NAMES, KAGGLE_NAMES, KAGGLE_FASHION_NAMES):
        raise Refused("header")
    if require_labels and not labelled:
        raise Refused("no label column")
    if len(lines) == 1:
        raise Refused("no rows")
    rows = []
    for number, line in lines[1:]:
        cells = [unquote(cell) for cell in line.split(",")]
        if len(cells) != len(header):
            raise Refused("field count", number)
        values = []
        for name, cell in zip(header, cells, strict=True):
            high = 9 if name == "label" else 255
            if not INTEGER.fullmatch(cell) or int(cell) > high:
                raise Refused("cell", number, name, cell)
            values.append(int(cell))
        rows.append(values)
    array = np.array(rows, dtype=np.int64)
    if labelled:
        return array[:, 1:].astype(np.uint8), array[:, 0]
    return array.astype(np.uint8), None
