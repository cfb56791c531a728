"""The IDX reader on generated files: what it reads, and every fault refused in one line that
names the file and the fault."""

from pathlib import Path

import numpy as np
import pytest

from pipeline.data.idx import IdxError, read_idx, read_labelled_images
from tests.pipeline.idx_files import fashion_like, gz, idx_bytes


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_reads_images_and_labels(tmp_path: Path, compress: bool) -> None:
    images, labels = fashion_like(7)
    pack = gz if compress else bytes
    pixels, classes = read_labelled_images(
        write(tmp_path, "images", pack(idx_bytes(images))),
        write(tmp_path, "labels", pack(idx_bytes(labels))),
        n_classes=10,
    )
    np.testing.assert_array_equal(pixels, images.reshape(7, 784))
    np.testing.assert_array_equal(classes, labels)
    assert pixels.dtype == np.uint8 and classes.dtype == np.int64


def test_gzip_is_told_by_its_bytes_not_its_name(tmp_path: Path) -> None:
    labels = np.arange(10, dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write(tmp_path, "x.gz", idx_bytes(labels))), labels)
    np.testing.assert_array_equal(read_idx(write(tmp_path, "x", gz(idx_bytes(labels)))), labels)


def test_an_empty_labels_file_reads_as_no_rows(tmp_path: Path) -> None:
    assert read_idx(write(tmp_path, "x", idx_bytes(np.zeros(0, np.uint8)))).shape == (0,)


LABELS = idx_bytes(np.arange(10, dtype=np.uint8))
FAULTS = {
    "truncated data": (LABELS[:-3], "truncated: the header's shape (10,) needs 18 bytes, the file"),
    "padded": (LABELS + b"\0\0", "2 bytes after the data that the header's shape (10,) describes"),
    "truncated header": (LABELS[:6], "truncated in the header: 1 dimensions need 8 bytes"),
    "too short": (b"\0\0", "2 bytes, too short for an IDX header"),
    "empty": (b"", "0 bytes, too short for an IDX header"),
    "wrong magic": (b"\x01" + LABELS[1:], "magic number 01000801 is not an IDX file's"),
    "a CSV": (b"label,1x1\n5,0\n", "magic number 6c616265 is not an IDX file's"),
    "floats": (LABELS[:2] + b"\x0d" + LABELS[3:], "values of type 0x0d (float); only unsigned"),
    "no dimensions": (b"\0\0\x08\0", "the header gives 0 dimensions"),
    "damaged gzip": (gz(LABELS)[:-6], "damaged gzip data"),
    "gzip garbage": (b"\x1f\x8b" + b"garbage" * 3, "damaged gzip data"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_refuses_a_damaged_file_in_one_line(tmp_path: Path, fault: str) -> None:
    data, reason = FAULTS[fault]
    path = write(tmp_path, "labels.idx", data)
    with pytest.raises(IdxError) as refused:
        read_idx(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert reason in message


def test_counts_images_against_labels(tmp_path: Path) -> None:
    images, labels = fashion_like(5)
    image_file = write(tmp_path, "images", idx_bytes(images))
    label_file = write(tmp_path, "labels", idx_bytes(labels[:4]))
    with pytest.raises(IdxError, match=f"^{image_file}: 5 images, but {label_file} has 4 labels$"):
        read_labelled_images(image_file, label_file, n_classes=10)


def test_refuses_labels_out_of_range_and_wrong_shapes(tmp_path: Path) -> None:
    images, labels = fashion_like(5)
    labels[3] = 10
    image_file = write(tmp_path, "images", idx_bytes(images))
    with pytest.raises(IdxError, match=r"labels: label 10 at row 3 is outside 0\.\.9$"):
        read_labelled_images(image_file, write(tmp_path, "labels", idx_bytes(labels)), 10)
    with pytest.raises(IdxError, match=r"shape is \(5, 28, 28\), expected \(n,\) labels"):
        read_labelled_images(image_file, image_file, 10)
    small = write(tmp_path, "small", idx_bytes(images[:, :20, :20]))
    with pytest.raises(IdxError, match=r"small: the header's shape is \(5, 20, 20\), expected"):
        read_labelled_images(small, write(tmp_path, "ok", idx_bytes(labels % 10)), 10)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(IdxError, match=r"nowhere: no such file$"):
        read_idx(tmp_path / "nowhere")
