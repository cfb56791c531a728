"""Reading IDX files, the format of MNIST's and Fashion-MNIST's original downloads.

An IDX file is a 4-byte magic number, then one big-endian uint32 per dimension, then the values
in row-major order:

    bytes 0-1   0x00 0x00
    byte  2     the type of the values: 0x08 is unsigned byte (the only type read here)
    byte  3     the number of dimensions: 1 for labels (n,), 3 for images (n, 28, 28)
    then        each dimension's size, 4 bytes, big-endian
    then        exactly the product of the sizes in values

The file may be gzip-compressed (told by its first two bytes, 0x1f 0x8b, not by its name).
A file that ends early, goes on after its data, has another magic number or damaged gzip data
is refused with one line naming the file and the fault; so are images and labels that do not
count the same.
"""

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from pipeline.errors import PipelineError

GZIP_MAGIC = b"\x1f\x8b"
UNSIGNED_BYTE = 0x08
TYPE_NAMES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "short", 0x0C: "int"} | {
    0x0D: "float",
    0x0E: "double",
}
IMAGE_SIDE = 28


class IdxError(PipelineError, ValueError):
    """An IDX file that cannot be used; the message names the file and the fault."""


def file_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when they start as gzip data do."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise IdxError(f"{path}: no such file") from None
    except OSError as error:
        raise IdxError(f"{path}: cannot be read ({error.strerror or error})") from None
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        reason = str(error) or "the compressed data end early"
        raise IdxError(f"{path}: damaged gzip data ({reason})") from None


def parse_idx(data: bytes, path: Path) -> np.ndarray:
    """The array an IDX file's (decompressed) bytes hold, of unsigned bytes; see the module."""
    if len(data) < 4:
        raise IdxError(f"{path}: {len(data)} bytes, too short for an IDX header (4 bytes or more)")
    zeros, type_code, ndim = data[:2], data[2], data[3]
    if zeros != b"\0\0":
        raise IdxError(
            f"{path}: magic number {data[:4].hex()} is not an IDX file's "
            f"(it starts 0000, then the type and the number of dimensions)"
        )
    if type_code != UNSIGNED_BYTE:
        name = TYPE_NAMES.get(type_code, "an unknown type")
        raise IdxError(
            f"{path}: values of type 0x{type_code:02x} ({name}); only unsigned bytes (0x08) "
            "are read"
        )
    if ndim == 0:
        raise IdxError(f"{path}: the header gives 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxError(
            f"{path}: truncated in the header: {ndim} dimensions need {header} bytes, "
            f"the file has {len(data)}"
        )
    shape = tuple(int(size) for size in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected = header + math.prod(shape)
    if len(data) < expected:
        raise IdxError(
            f"{path}: truncated: the header's shape {shape} needs {expected:,} bytes, "
            f"the file has {len(data):,}"
        )
    if len(data) > expected:
        raise IdxError(
            f"{path}: {len(data) - expected:,} bytes after the data that the header's shape "
            f"{shape} describes ({expected:,} bytes)"
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def read_idx(path: str | Path) -> np.ndarray:
    """The array in the IDX file at ``path`` (gzip or plain), read-only."""
    path = Path(path)
    return parse_idx(file_bytes(path), path)


def as_images(array: np.ndarray, source: str | Path) -> np.ndarray:
    """An IDX array of 28x28 images as rows of 784 pixels: (n, 784) uint8."""
    if array.ndim != 3 or array.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise IdxError(
            f"{source}: the header's shape is {array.shape}, expected (n, {IMAGE_SIDE}, "
            f"{IMAGE_SIDE}) images"
        )
    return array.reshape(len(array), IMAGE_SIDE * IMAGE_SIDE)


def as_labels(array: np.ndarray, source: str | Path, n_classes: int) -> np.ndarray:
    """An IDX array of class labels in 0..n_classes-1 as (n,) int64."""
    if array.ndim != 1:
        raise IdxError(f"{source}: the header's shape is {array.shape}, expected (n,) labels")
    if len(array) and array.max() >= n_classes:
        row = int(np.argmax(array >= n_classes))
        raise IdxError(f"{source}: label {array[row]} at row {row} is outside 0..{n_classes - 1}")
    return array.astype(np.int64)


def labelled_images(
    images: tuple[str | Path, bytes], labels: tuple[str | Path, bytes], n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(pixels (n, 784) uint8, labels (n,) int64)`` from the (decompressed) bytes of an images
    file and of its labels file, each given as ``(name, bytes)``; both must count the same."""
    (image_source, image_bytes), (label_source, label_bytes) = images, labels
    pixels = as_images(parse_idx(image_bytes, Path(image_source)), image_source)
    classes = as_labels(parse_idx(label_bytes, Path(label_source)), label_source, n_classes)
    if len(pixels) != len(classes):
        raise IdxError(
            f"{image_source}: {len(pixels):,} images, but {label_source} has "
            f"{len(classes):,} labels"
        )
    return pixels, classes


def read_labelled_images(
    images: str | Path, labels: str | Path, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """``labelled_images`` of an images file and a labels file (gzip or plain) on disk."""
    return labelled_images(
        (images, file_bytes(Path(images))), (labels, file_bytes(Path(labels))), n_classes
    )
