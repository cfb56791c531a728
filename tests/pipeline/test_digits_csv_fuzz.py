"""Fuzzing the CSV reader and the prepare stage: valid files, damaged at random.

A valid file in any accepted form (any of the three layouts, with or without labels, LF, CRLF or
CR, a quoted header or not, plain or gzip) is damaged at the byte, cell, line or header level. The
property: either the reader returns exactly what ``tests/pipeline/csv_reference.py`` (an
independent plain reader) reads, or both refuse it, the reader with one line naming the file (and
the line and column of a damaged cell). ``prepare`` then exits 1 with one ``error: <file>: ...``
line, no traceback, and the earlier prepared data stays as it was.

How long this runs is the Hypothesis profile's (tests/conftest.py): ``HYPOTHESIS_PROFILE=fuzz``
for a long run by hand. Every failure it found is a named test in test_digits_csv.py.
"""

import contextlib
import functools
import gzip
import io
import os
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from omegaconf import DictConfig, OmegaConf

from pipeline.data.image_csv import DataError, read_digits_csv
from tests.pipeline import csv_reference
from tests.pipeline.csv_reference import KAGGLE_FASHION_NAMES, KAGGLE_NAMES, MNIST_NAMES, Refused

TRICKY_CELLS = [
    *[
        "5.0",
        "1e2",
        "+5",
        "-0",
        " 5",
        "5 ",
        "0x1f",
        "05",
        "\u0665",
        "\uff15",
        "",
        "nan",
        "inf",
        "-inf",
    ],
    *["256", "10", "-1", "99999999999999999999", '"5"', "'5'", "5;", "\t5", "True", "1_0"],
    *['"', '"5', "5\x00", "\ufeff5", "é", "0b1", "5e0", "  ", "NULL", "NA", "#5"],
]


@st.composite
def valid_files(draw) -> dict:
    """A valid digit CSV: its rows, layout, labels, line ending, compression."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    n = draw(st.integers(1, 4), label="rows")
    return {
        "labels": rng.integers(0, 10, n).tolist(),
        "pixels": rng.integers(0, 256, (n, 784)).tolist(),
        "layout": draw(st.sampled_from(["mnist", "kaggle", "kaggle_fashion"])),
        "labelled": draw(st.booleans()),
        "line_ending": draw(st.sampled_from(["\n", "\r\n", "\r"])),
        "quoted_header": draw(st.booleans()),  # as R's write.csv writes it
        "compressed": draw(st.booleans()),
    }


def text_lines(spec: dict) -> list[list[str]]:
    """The file as lines of cells, header first."""
    names = {"mnist": MNIST_NAMES, "kaggle": KAGGLE_NAMES, "kaggle_fashion": KAGGLE_FASHION_NAMES}[
        spec["layout"]
    ]
    label = ["label"] if spec["labelled"] else []
    header = label + names
    lines = [[f'"{name}"' for name in header] if spec["quoted_header"] else header]
    for value, pixels in zip(spec["labels"], spec["pixels"], strict=True):
        lines.append(([str(value)] if spec["labelled"] else []) + [str(p) for p in pixels])
    return lines


def join(lines: list[list[str]], line_ending: str) -> bytes:
    return (line_ending.join(",".join(cells) for cells in lines) + line_ending).encode()


@st.composite
def damaged_cell(draw, lines: list[list[str]]) -> tuple[list[list[str]], tuple[int, int, str]]:
    line = draw(st.integers(1, len(lines) - 1), label="row index")
    column = draw(st.integers(0, len(lines[line]) - 1), label="column")
    value = draw(st.sampled_from(TRICKY_CELLS) | st.text(max_size=4), label="cell")
    lines[line][column] = value
    return lines, (line + 1, column, value)


@st.composite
def damaged_header(draw, lines: list[list[str]]) -> list[list[str]]:
    header = lines[0]
    how = draw(
        st.sampled_from(["swap", "rename", "drop", "duplicate", "bom", "label last", "case"]),
        label="header damage",
    )
    i = draw(st.integers(0, len(header) - 1), label="name")
    j = draw(st.integers(0, len(header) - 1), label="other name")
    if how == "swap":
        header[i], header[j] = header[j], header[i]
    elif how == "rename":
        header[i] = draw(st.sampled_from(["", "x", "label", " 1x1", "pixel784"]) | st.text())
    elif how == "drop":
        for cells in lines:
            del cells[i]
    elif how == "duplicate":
        header[i] = header[j]
    elif how == "bom":
        header[0] = "\ufeff" + header[0]
    elif how == "label last" and header[0].strip('"') == "label":
        for cells in lines:
            cells.append(cells.pop(0))
    elif how == "case":
        header[i] = header[i].upper()
    return lines


@st.composite
def damaged_lines(draw, lines: list[list[str]]) -> list[list[str]]:
    how = draw(st.sampled_from(["delete", "repeat header", "blank", "join", "split"]))
    i = draw(st.integers(0, len(lines) - 1), label="line")
    if how == "delete":
        del lines[i]
    elif how == "repeat header":
        lines.insert(i + 1, list(lines[0]))
    elif how == "blank":
        lines.insert(i + 1, [""])
    elif how == "join" and i + 1 < len(lines):
        lines[i] = lines[i] + lines.pop(i + 1)
    elif how == "split":
        cut = draw(st.integers(1, max(1, len(lines[i]) - 1)), label="cut")
        lines[i : i + 1] = [lines[i][:cut], lines[i][cut:]]
    return lines


def damage_bytes(draw, raw: bytes) -> bytes:
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 3), label="byte edits")):
        how = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)), label="offset")
        if how == "flip" and data:
            data[at] = draw(st.integers(0, 255), label="byte")
        elif how == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif how == "truncate":
            del data[at:]
    return bytes(data)


@st.composite
def damaged_files(draw) -> tuple[bytes, bool, tuple[int, int, str] | None]:
    """(the file's bytes, compressed, (line, column, value) of the damaged cell or None)."""
    spec = draw(valid_files())
    lines = text_lines(spec)
    level = draw(st.sampled_from(["none", "bytes", "cell", "header", "lines"]), label="level")
    cell = None
    if level == "cell":
        lines, cell = draw(damaged_cell(lines))
    elif level == "header":
        lines = draw(damaged_header(lines))
    elif level == "lines":
        lines = draw(damaged_lines(lines))
    raw = join(lines, spec["line_ending"])
    if spec["compressed"]:
        raw = gzip.compress(raw, mtime=0)
    if level == "bytes":
        raw = damage_bytes(draw, raw)
    return raw, spec["compressed"], cell


def located(cell: tuple[int, int, str] | None, refused: Refused) -> bool:
    """Whether the reader must name the damaged cell's line and column: it is the cell the
    reference refuses, and nothing in it reshapes the rows (quotes, commas, line ends) or
    makes the file binary."""
    if cell is None or refused.line != cell[0] or refused.column is None:
        return False
    return not set(cell[2]) & set('",\r\n\0')


def check_reader(path: Path, raw: bytes, compressed: bool, cell, require_labels: bool) -> bool:
    """The property; returns whether the file is valid."""
    try:
        expected_pixels, expected_labels = csv_reference.read(raw, compressed, require_labels)
    except Refused as refused:
        try:
            read_digits_csv(path, require_labels=require_labels)
        except DataError as error:
            message = str(error)
            assert message.startswith(f"{path}: ") and "\n" not in message, message
            if located(cell, refused):
                assert f"line {refused.line}, column {refused.column!r}" in message, message
            return False
        raise AssertionError(f"accepted a file the reference refuses ({refused})") from None
    digits = read_digits_csv(path, require_labels=require_labels)
    np.testing.assert_array_equal(digits.pixels, expected_pixels)
    assert digits.pixels.dtype == np.uint8 and digits.pixels.shape == expected_pixels.shape
    if expected_labels is None:
        assert digits.labels is None
    else:
        np.testing.assert_array_equal(digits.labels, expected_labels)
    return True


@given(damaged=damaged_files(), require_labels=st.booleans())
def test_a_damaged_file_is_read_exactly_or_refused_in_one_line(damaged, require_labels):
    raw, compressed, cell = damaged
    with scratch_dir() as folder:
        path = folder / ("digits.csv.gz" if compressed else "digits.csv")
        path.write_bytes(raw)
        check_reader(path, raw, compressed, cell, require_labels)


@contextlib.contextmanager
def scratch_dir():
    """A fresh folder per example (pytest's tmp_path is one per test, not per example)."""
    import tempfile

    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


@functools.cache
def default_config() -> DictConfig:
    """conf/ composed once: Hydra takes about a second per composition."""
    from pipeline.config import compose

    raw = compose()
    OmegaConf.resolve(raw)
    return raw


def run_prepare(folder: Path, train_csv: Path, test_csv: Path) -> tuple[int, str]:
    """``python -m pipeline.stages.prepare`` in-process: its exit code and stderr."""
    from pipeline.cli import run_stage
    from pipeline.stages import prepare

    params = OmegaConf.merge(
        default_config(),
        {
            "data": {"train_csv": str(train_csv), "test_csv": str(test_csv), "val_size": 1},
            "paths": {"prepared": str(folder / "prepared")},
        },
    )
    (folder / "params.yaml").write_text(OmegaConf.to_yaml(params))
    stderr = io.StringIO()
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            run_stage(prepare.main)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    finally:
        os.chdir(cwd)
    return code, stderr.getvalue()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@given(damaged=damaged_files(), which=st.sampled_from(["train", "test"]))
def test_prepare_exits_1_with_one_error_line_and_keeps_earlier_outputs(damaged, which):
    raw, compressed, _ = damaged
    with scratch_dir() as folder:
        good_train, good_test = folder / "good_train.csv", folder / "good_test.csv"
        good = join(text_lines(valid_spec(3)), "\n")
        good_train.write_bytes(good)
        good_test.write_bytes(good)
        assert run_prepare(folder, good_train, good_test) == (0, "")
        before = snapshot(folder / "prepared")
        bad = folder / ("bad.csv.gz" if compressed else "bad.csv")
        bad.write_bytes(raw)
        train_csv, test_csv = (bad, good_test) if which == "train" else (good_train, bad)
        try:
            pixels, _ = csv_reference.read(raw, compressed, require_labels=which == "train")
        except Refused:
            code, stderr = run_prepare(folder, train_csv, test_csv)
            assert code == 1, stderr
            assert stderr.startswith(f"error: {bad}: ") and stderr.count("\n") == 1, stderr
            assert snapshot(folder / "prepared") == before
            assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []
            return
        code, stderr = run_prepare(folder, train_csv, test_csv)
        too_few_rows = which == "train" and len(pixels) < 2  # val_size=1 must leave one row
        assert code == (1 if too_few_rows else 0), stderr


def valid_spec(n: int) -> dict:
    rng = np.random.default_rng(0)
    return {
        "labels": rng.integers(0, 10, n).tolist(),
        "pixels": rng.integers(0, 256, (n, 784)).tolist(),
        "layout": "mnist",
        "labelled": True,
        "line_ending": "\n",
        "quoted_header": False,
        "compressed": False,
    }
