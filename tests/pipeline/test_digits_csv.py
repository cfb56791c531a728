import gzip

import numpy as np
import pytest

from pipeline.digits_csv import DataError, read_digits_csv
from tests.conftest import write_digits_csv


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
