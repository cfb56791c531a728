"""IDX files written for tests: the format's header by hand (struct), so the reader is checked
against an independent writer."""

import gzip
import struct

import numpy as np


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """``array`` (uint8) as an IDX file: 0, 0, the type, the number of dimensions, the sizes
    (big-endian uint32), then the values."""
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def fashion_like(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random 28x28 uint8 images (n, 28, 28) and labels (n,) in 0..9."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    return images, rng.integers(0, 10, n).astype(np.uint8)
