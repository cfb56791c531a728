import gzip
import lzma
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.data.image_csv import DataError, read_digits_csv
from tests.conftest import write_digits_csv
from tests.guides import page


@pytest.mark.parametrize("layout", ["mnist", "kaggle"])
def test_reads_both_layouts(tmp_path, layout):
    pixels, labels = write_digits_csv(tmp_path / "d.csv", 30, layout=layout)
    digits = read_digits_csv(tmp_path / "d.csv", require_labels=True)
    assert digits.pixels.dtype == np.uint8 and digits.pixels.shape == (30, 784)
    np.testing.assert_array_equal(digits.pixels, pixels)
    np.testing.assert_array_equal(digits.labels, labels)


def test_unlabelled_test_file(tmp_path):
    pixels, _ = write_digits_csv(tmp_path / "test.csv", 12, layout="kaggle", labelled=False)
    digits = read_digits_csv(tmp_path / "test.csv", require_labels=False)
    assert digits.labels is None
    np.testing.assert_array_equal(digits.pixels, pixels)
    with pytest.raises(DataError, match=r"test.csv: no 'label' column"):
        read_digits_csv(tmp_path / "test.csv", require_labels=True)


def test_crlf_and_gzip_work(tmp_path):
    pixels, labels = write_digits_csv(tmp_path / "crlf.csv", 10, line_ending="\r\n")
    np.testing.assert_array_equal(read_digits_csv(tmp_path / "crlf.csv", True).pixels, pixels)
    (tmp_path / "d.csv.gz").write_bytes(gzip.compress((tmp_path / "crlf.csv").read_bytes()))
    np.testing.assert_array_equal(read_digits_csv(tmp_path / "d.csv.gz", True).labels, labels)


def corrupt(tmp_path, line: int, column: int, value: str):
    """A 10-row CSV with cell (1-based line, 0-based column) replaced by ``value``."""
    path = tmp_path / "bad.csv"
    write_digits_csv(path, 10)
    lines = path.read_text().splitlines()
    cells = lines[line - 1].split(",")
    cells[column] = value
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("line", "column", "value", "message"),
    [
        (4, 5, "abc", r"line 4, column '1x5': 'abc' is not an integer pixel"),
        (3, 1, "256", r"line 3, column '1x1': 256 is outside 0..255"),
        (5, 3, "-1", r"line 5, column '1x3': -1 is outside 0..255"),
        (6, 2, "12.5", r"line 6, column '1x2': .*12.5.* is not an integer"),
        (7, 0, "10", r"line 7, column 'label': 10 is outside 0..9"),
        (2, 9, "", r"line 2, column '1x9'"),
    ],
)
def test_bad_cells_name_file_line_and_column(tmp_path, line, column, value, message):
    path = corrupt(tmp_path, line, column, value)
    with pytest.raises(DataError, match=rf"bad.csv: {message}"):
        read_digits_csv(path, require_labels=True)


def test_wrong_field_count_names_the_line(tmp_path):
    path = tmp_path / "short.csv"
    write_digits_csv(path, 10)
    lines = path.read_text().splitlines()
    lines[5] = lines[5].rsplit(",", 1)[0]  # line 6 loses its last field
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"short.csv: line 6 has 784 fields, the header has 785"):
        read_digits_csv(path, require_labels=True)


def test_missing_empty_and_header_only_files(tmp_path):
    with pytest.raises(DataError, match=r"nope.csv: no such file"):
        read_digits_csv(tmp_path / "nope.csv", True)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty.csv: the file is empty"):
        read_digits_csv(tmp_path / "empty.csv", True)
    write_digits_csv(tmp_path / "full.csv", 1)
    header = (tmp_path / "full.csv").read_text().splitlines()[0]
    (tmp_path / "header.csv").write_text(header + "\n")
    with pytest.raises(DataError, match=r"header.csv: the header has no rows"):
        read_digits_csv(tmp_path / "header.csv", True)


def test_wrong_number_of_pixel_columns(tmp_path):
    (tmp_path / "narrow.csv").write_text("label,a,b\n1,2,3\n")
    with pytest.raises(DataError, match=r"narrow.csv: the header has 2 pixel columns, expected"):
        read_digits_csv(tmp_path / "narrow.csv", True)


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "model.csv"
    path.write_bytes(b"PK\x03\x04\x00\x00binary" * 100)
    with pytest.raises(DataError, match=r"model.csv: not a CSV file \(it holds binary data\)"):
        read_digits_csv(path, True)


def test_repeated_header_line_is_named(tmp_path):
    path = tmp_path / "twice.csv"
    write_digits_csv(path, 10)
    lines = path.read_text().splitlines()
    lines.insert(5, lines[0])  # becomes line 6
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"twice.csv: line 6 repeats the header line"):
        read_digits_csv(path, True)


def test_nan_cell_is_named(tmp_path):
    with pytest.raises(DataError, match=r"line 3, column '1x4': 'NaN' is not an integer"):
        read_digits_csv(corrupt(tmp_path, 3, 4, "NaN"), True)


def test_too_many_fields_names_the_line(tmp_path):
    path = tmp_path / "long.csv"
    write_digits_csv(path, 10)
    lines = path.read_text().splitlines()
    lines[3] += ",7"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"long.csv: line 4 has 786 fields, the header has 785"):
        read_digits_csv(path, True)


def test_a_bad_file_leaves_earlier_prepared_data_intact(tmp_path, small_csvs):
    from pipeline.config import compose, validate
    from pipeline.stages.prepare import prepare

    overrides = [
        f"data.train_csv={small_csvs[0]}",
        f"data.test_csv={small_csvs[1]}",
        "data.val_size=50",
        f"paths.prepared={tmp_path / 'prepared'}",
    ]
    prepare(validate(compose(overrides)))
    before = {p.name: p.read_bytes() for p in (tmp_path / "prepared").iterdir()}
    bad = corrupt(tmp_path, 4, 2, "x")
    with pytest.raises(DataError):
        prepare(validate(compose([*overrides, f"data.test_csv={bad}"])))
    assert {p.name: p.read_bytes() for p in (tmp_path / "prepared").iterdir()} == before


# Property-based: any valid file reads back exactly; any single bad cell is found where it is.


@st.composite
def digit_rows(draw) -> list[tuple[int, list[int]]]:
    """1-4 rows of (label, 784 pixels), drawn from a seed so failures shrink fast."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    n = draw(st.integers(1, 4), label="rows")
    return [(int(rng.integers(0, 10)), rng.integers(0, 256, 784).tolist()) for _ in range(n)]


PIXEL_ROWS = digit_rows()


def csv_text(rows, layout: str, labelled: bool, line_ending: str) -> str:
    names = (
        [f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)]
        if layout == "mnist"
        else [f"pixel{i}" for i in range(784)]
    )
    lines = [",".join((["label"] if labelled else []) + names)]
    lines += [
        ",".join(([str(label)] if labelled else []) + list(map(str, pixels)))
        for label, pixels in rows
    ]
    return line_ending.join(lines) + line_ending


@given(
    rows=PIXEL_ROWS,
    layout=st.sampled_from(["mnist", "kaggle"]),
    labelled=st.booleans(),
    line_ending=st.sampled_from(["\n", "\r\n"]),
    compressed=st.booleans(),
)
def test_valid_files_read_back_exactly(tmp_path, rows, layout, labelled, line_ending, compressed):
    text = csv_text(rows, layout, labelled, line_ending).encode()
    path = tmp_path / ("d.csv.gz" if compressed else "d.csv")
    path.write_bytes(gzip.compress(text) if compressed else text)
    digits = read_digits_csv(path, require_labels=False)
    np.testing.assert_array_equal(digits.pixels, [pixels for _, pixels in rows])
    if labelled:
        np.testing.assert_array_equal(digits.labels, [label for label, _ in rows])
    else:
        assert digits.labels is None


@given(
    rows=PIXEL_ROWS,
    data=st.data(),
    bad=st.sampled_from(["-1", "256", "3.5", "x", "", "1e400", "nan", "\u0661"]),
)
def test_one_bad_cell_is_reported_at_its_line_and_column(tmp_path, rows, data, bad):
    line = data.draw(st.integers(2, len(rows) + 1), label="line")
    column = data.draw(st.integers(0, 784), label="column")
    lines = csv_text(rows, "kaggle", True, "\n").splitlines()
    cells = lines[line - 1].split(",")
    cells[column] = bad
    lines[line - 1] = ",".join(cells)
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    name = "label" if column == 0 else f"pixel{column - 1}"
    with pytest.raises(DataError, match=rf"bad.csv: line {line}, column '{name}'"):
        read_digits_csv(path, require_labels=True)


# What fuzzing found (tests/pipeline/test_digits_csv_fuzz.py), each as a named regression test.


def test_a_byte_order_mark_before_the_header_is_skipped(tmp_path):
    """Found: a UTF-8 BOM (Excel writes one) made the first column '\\ufefflabel': a KeyError
    traceback in the fast path, then 'no label column'."""
    for layout in ("mnist", "kaggle"):
        pixels, labels = write_digits_csv(tmp_path / "d.csv", 5, layout=layout)
        path = tmp_path / "bom.csv"
        path.write_bytes(b"\xef\xbb\xbf" + (tmp_path / "d.csv").read_bytes())
        digits = read_digits_csv(path, require_labels=True)
        np.testing.assert_array_equal(digits.pixels, pixels)
        np.testing.assert_array_equal(digits.labels, labels)
        bad = corrupt(tmp_path, 3, 4, "x")  # and the plain path skips it too
        bad.write_bytes(b"\xef\xbb\xbf" + bad.read_bytes())
        with pytest.raises(DataError, match=r"line 3, column '1x4': 'x' is not an integer"):
            read_digits_csv(bad, require_labels=True)


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "bad checksum", "not gzip"])
def test_a_damaged_gzip_is_one_error_line(tmp_path, damage):
    """Found: zlib.error, EOFError and BadGzipFile tracebacks from a damaged .csv.gz."""
    write_digits_csv(tmp_path / "d.csv", 40)
    data = bytearray(gzip.compress((tmp_path / "d.csv").read_bytes(), mtime=0))
    if damage == "truncated":
        del data[len(data) // 2 :]
    elif damage == "flipped byte":
        data[len(data) // 2] ^= 0xFF
    elif damage == "bad checksum":
        data[-8] ^= 0xFF
    else:
        data = bytearray(b"label,1x1\n1,2\n")
    path = tmp_path / "d.csv.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"d.csv.gz: ") as error:
        read_digits_csv(path, require_labels=True)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("5.0", r"'5.0' is not an integer pixel value; write it as 5"),
        ("1e2", r"'1e2' is not an integer pixel value; write it as 100"),
        ("+5", r"'\+5' is not a plain integer pixel value; write it as 5"),
        ("-0", r"'-0' is not a plain integer pixel value; write it as 0"),
        ("0x1f", r"'0x1f' is not an integer pixel value$"),
        (" 5", r"' 5' is not a plain integer pixel value; write it as 5"),
        ("5 ", r"'5 ' is not a plain integer pixel value; write it as 5"),
        ("\t5", r"'\\t5' is not a plain integer pixel value; write it as 5"),
        ("\u0665", r"'\u0665' is not an integer pixel value"),  # an Arabic-Indic five
    ],
)
def test_cells_that_are_not_plain_integers_are_refused(tmp_path, cell, message):
    """Found: '5.0' and '1e2' ended in an IndexError traceback; '0x1f' (read as 31), '-0' and
    cells with spaces or tabs were accepted. A file of floats (pixels in [0, 1]) would pass as
    nearly black images, so only plain decimal integers are read."""
    with pytest.raises(DataError, match=rf"bad.csv: line 3, column '1x7': {message}"):
        read_digits_csv(corrupt(tmp_path, 3, 7, cell), require_labels=True)


@pytest.mark.parametrize(
    ("layout", "name", "changed", "expected"),
    [
        ("kaggle", "pixel1,pixel2,", "pixel2,pixel1,", r"column 3 of the header is 'pixel2', "
         r"expected 'pixel1': the pixel columns must be in Kaggle's \(pixel0..pixel783\) order"),
        ("kaggle", "pixel5,", "px5,", r"column 7 of the header is 'px5', expected 'pixel5'"),
        ("mnist", "1x1,", "1X1,", r"column 2 of the header is '1X1', expected '1x1': the pixel "
         r"columns must be in MNIST's \(1x1..28x28\) order"),
    ],
)  # fmt: skip
def test_pixel_columns_out_of_order_are_refused(tmp_path, layout, name, changed, expected):
    """Found: a header with two pixel columns swapped (or renamed, or in upper case) was
    accepted, and the images read scrambled. The error names the first column out of place in
    the layout most of the header is in."""
    path = tmp_path / "d.csv"
    write_digits_csv(path, 5, layout=layout)
    good = path.read_text()
    path.write_text(good.replace(name, changed, 1))
    with pytest.raises(DataError, match=rf"d.csv: {expected}"):
        read_digits_csv(path, require_labels=True)
    path.write_text(good)
    read_digits_csv(path, require_labels=True)  # the header as written: reads


@pytest.mark.parametrize(
    ("name", "compression"),
    [("d.csv.xz", "xz"), ("d.csv.bz2", "bz2"), ("d.zip", "zip"), ("d.tar.gz", "tar")],
)
def test_other_compressions_are_refused_by_name_in_one_line(tmp_path, name, compression):
    """Found: pandas reads .xz, .bz2, .zip (and more) by their names too, and a damaged .xz or
    .zip ended in an LZMAError or BadZipFile traceback. Only gzip is read; the others are
    refused before any byte is, even when valid."""
    path = tmp_path / name
    write_digits_csv(tmp_path / "d.csv", 5)
    path.write_bytes(lzma.compress((tmp_path / "d.csv").read_bytes()))
    with pytest.raises(DataError) as error:
        read_digits_csv(path, require_labels=True)
    assert str(error.value) == (
        f"{path}: {compression} files are not read: decompress it, or compress it with gzip"
        " (.csv.gz)"
    )


def test_the_label_column_must_come_first(tmp_path):
    """Found: a file with 'label' last was accepted (the columns are found by name, but a
    label anywhere else is far more likely a mistake in how the file was made)."""
    path = tmp_path / "d.csv"
    write_digits_csv(path, 5)
    rows = [line.split(",") for line in path.read_text().splitlines()]
    path.write_text("\n".join(",".join(cells[1:] + cells[:1]) for cells in rows) + "\n")
    with pytest.raises(DataError, match=r"d.csv: 'label' is column 785; it must be the first"):
        read_digits_csv(path, require_labels=False)


def test_text_that_is_not_utf8_is_one_error_line(tmp_path):
    """Found: a UnicodeDecodeError traceback for a byte like 0xff in a row."""
    path = corrupt(tmp_path, 4, 2, "7")
    data = path.read_bytes()
    at = data.index(b"\n7,") + 1
    path.write_bytes(data[:at] + b"\xff" + data[at + 1 :])
    with pytest.raises(DataError, match=r"bad.csv: after line \d+: not UTF-8 text"):
        read_digits_csv(path, require_labels=True)


def test_quoted_cells_and_blank_lines_read_as_usual(tmp_path):
    """R's write.csv quotes the header; blank lines are skipped; CR-only line ends work: the
    same digits, through the fast or the plain path."""
    pixels, labels = write_digits_csv(tmp_path / "d.csv", 6)
    lines = (tmp_path / "d.csv").read_text().splitlines()
    header = ",".join(f'"{name}"' for name in lines[0].split(","))
    quoted = tmp_path / "quoted.csv"
    quoted.write_text("\n".join([header, *lines[1:3], "", *lines[3:]]) + "\n")
    old_mac = tmp_path / "cr.csv"
    old_mac.write_bytes(("\r".join(lines) + "\r").encode())
    for path in (quoted, old_mac):
        digits = read_digits_csv(path, require_labels=True)
        np.testing.assert_array_equal(digits.pixels, pixels)
        np.testing.assert_array_equal(digits.labels, labels)


def damaged_kaggle_csv(path, line: int, edit) -> None:
    """A 10-row Kaggle-layout CSV whose ``line`` (1-based, the header is 1) ``edit`` changes."""
    write_digits_csv(path, 10, layout="kaggle")
    lines = path.read_text().splitlines()
    lines[line - 1] = ",".join(edit(lines[line - 1].split(",")))
    path.write_text("\n".join(lines) + "\n")


def cell(index: int, value: str):
    return lambda cells: [*cells[:index], value, *cells[index + 1 :]]


@pytest.mark.parametrize(
    ("name", "make", "line"),
    [
        (
            "data/kaggle/train.csv",
            lambda p: damaged_kaggle_csv(p, 4, cell(6, "abc")),
            "line 4, column 'pixel5': 'abc' is not an integer pixel value",
        ),
        (
            "data/kaggle/train.csv",
            lambda p: damaged_kaggle_csv(p, 3, cell(0, "10")),
            "line 3, column 'label': 10 is outside 0..9, the range of a label",
        ),
        (
            "data/kaggle/train.csv",
            lambda p: damaged_kaggle_csv(p, 6, lambda cells: cells[:-1]),
            "line 6 has 784 fields, the header has 785",
        ),
        (
            "data/kaggle/train.csv",
            lambda p: damaged_kaggle_csv(p, 2, cell(8, "5.0")),
            "line 2, column 'pixel7': '5.0' is not an integer pixel value; write it as 5",
        ),
        (
            "data/kaggle/train.csv",
            lambda p: damaged_kaggle_csv(p, 1, lambda c: [c[0], c[1], c[3], c[2], *c[4:]]),
            "column 3 of the header is 'pixel2', expected 'pixel1': the pixel columns must be "
            "in Kaggle's (pixel0..pixel783) order",
        ),
        (
            "my/train.csv.gz",
            lambda p: p.write_bytes(gzip.compress(b"label,pixel0\n" * 1000)[:-20]),
            "cannot be read (Compressed file ended before the end-of-stream marker was reached)",
        ),
    ],
)
def test_the_readmes_error_lines_word_for_word(tmp_path, monkeypatch, name, make, line):
    """docs/configuration.md, "Your own CSVs": each line it shows, from a file damaged that way."""
    assert f"error: {name}: {line}" in page("configuration.md")
    monkeypatch.chdir(tmp_path)
    path = Path(name)
    path.parent.mkdir(parents=True)
    make(path)
    with pytest.raises(DataError) as refused:
        read_digits_csv(path, require_labels=True)
    assert str(refused.value) == f"{name}: {line}"
