"""Fuzzing the IDX reader: valid files (images or labels, plain or gzip) damaged at random.

The property: the reader returns exactly what a plain reference reader (``reference`` below,
``struct`` and slicing) reads, or both refuse the file, the reader in one line starting with the
file's name. How long this runs is the Hypothesis profile's (tests/conftest.py).
"""

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pipeline.data.idx import IdxError, read_idx
from tests.pipeline.idx_files import gz, idx_bytes
from tests.pipeline.test_digits_csv_fuzz import damage_bytes


class Refused(Exception):
    pass


def reference(raw: bytes) -> np.ndarray:
    """What a valid IDX file of unsigned bytes holds; anything else raises Refused."""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error):
            raise Refused("gzip") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or raw[3] == 0:
        raise Refused("magic")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise Refused("header")
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    body = raw[4 + 4 * ndim :]
    if len(body) != math.prod(shape):
        raise Refused("size")
    return np.frombuffer(body, np.uint8).reshape(shape)


@st.composite
def damaged_idx(draw) -> bytes:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    n = draw(st.integers(0, 3), label="rows")
    shape = draw(st.sampled_from([(n,), (n, 28, 28), (n, 2, 3)]), label="shape")
    raw = idx_bytes(rng.integers(0, 256, shape, dtype=np.uint8))
    if draw(st.booleans(), label="gzip"):
        raw = gz(raw)
    if draw(st.booleans(), label="append"):
        raw += draw(st.binary(min_size=1, max_size=8))
    return damage_bytes(draw, raw) if draw(st.booleans(), label="damage") else raw


@given(raw=damaged_idx())
def test_reads_what_the_reference_reads_or_refuses_in_one_line(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "file.idx"
    path.write_bytes(raw)
    try:
        expected = reference(raw)
    except Refused:
        try:
            read_idx(path)
        except IdxError as error:
            assert str(error).startswith(f"{path}: ") and "\n" not in str(error), str(error)
            return
        raise AssertionError("accepted a file the reference refuses") from None
    np.testing.assert_array_equal(read_idx(path), expected)
