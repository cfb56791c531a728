"""Fashion-MNIST's fetch: a small ``.deb`` built here (ar + tar written in Python) and a folder of
the authors' files, each with its pins; every mismatch refused in one line naming the file; one
real fetch of Debian's package (slow: it downloads 31 MB)."""

import hashlib
import io
import os
import subprocess
import sys
import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import compose, to_yaml
from pipeline.data import fashion_source
from pipeline.data.fashion_source import FILES, IdxFile, SourceError, from_deb, from_folder
from pipeline.data.image_csv import read_digits_csv
from pipeline.stages.fetch import write_fashion_csvs
from tests.pipeline.idx_files import fashion_like, gz, idx_bytes


def small_files(n_train: int = 30, n_test: int = 10) -> dict[str, bytes]:
    """The four IDX files (decompressed) of a small random Fashion-MNIST."""
    files = {}
    for split, n, seed in (("train", n_train, 1), ("test", n_test, 2)):
        images, labels = fashion_like(n, seed)
        files[f"{split}_images"], files[f"{split}_labels"] = idx_bytes(images), idx_bytes(labels)
    return files


def pins(files: dict[str, bytes], compressed: dict[str, bytes]) -> dict[str, IdxFile]:
    """FILES with the md5 of ``compressed`` and the sha256 of ``files`` in place of the real."""
    return {
        key: replace(
            spec,
            authors_md5=hashlib.md5(compressed[key]).hexdigest(),
            sha256=hashlib.sha256(files[key]).hexdigest(),
        )
        for key, spec in FILES.items()
    }


def ar_archive(members: dict[str, bytes]) -> bytes:
    """An ``ar`` archive as ``dpkg-deb --build`` writes one: a 60-byte header per member."""
    out = bytearray(fashion_source.AR_MAGIC)
    for name, data in members.items():
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n"
        out += header.encode() + data + (b"\n" if len(data) % 2 else b"")
    return bytes(out)


def tar_xz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def small_deb(folder: Path, compressed: dict[str, bytes]) -> Path:
    members = {
        f"./{fashion_source.PACKAGE_FOLDER}{FILES[key].name}": data
        for key, data in compressed.items()
    }
    deb = folder / "dataset-fashion-mnist_test_all.deb"
    deb.write_bytes(
        ar_archive(
            {
                "debian-binary": b"2.0\n",
                "control.tar.xz": tar_xz({"./control": b"Package: test\n"}),
                "data.tar.xz": tar_xz(members),
            }
        )
    )
    return deb


@pytest.fixture
def small(tmp_path: Path):
    files = small_files()
    compressed = {key: gz(data) for key, data in files.items()}
    return files, compressed, pins(files, compressed)


def test_a_small_deb_gives_its_files_and_they_become_csvs(tmp_path: Path, small) -> None:
    files, compressed, pinned = small
    deb = small_deb(tmp_path, compressed)
    found = from_deb(deb, hashlib.sha256(deb.read_bytes()).hexdigest(), pinned)
    assert found == files
    train_csv, test_csv = write_fashion_csvs(found, tmp_path / "raw")
    assert [train_csv.name, test_csv.name] == ["fashion_mnist_train.csv", "fashion_mnist_test.csv"]
    images, labels = fashion_like(10, seed=2)
    test = read_digits_csv(test_csv, require_labels=True)
    np.testing.assert_array_equal(test.pixels, images.reshape(10, 784))
    np.testing.assert_array_equal(test.labels, labels)


def test_the_deb_is_refused_unless_its_sha256_matches(tmp_path: Path, small) -> None:
    _, compressed, pinned = small
    deb = small_deb(tmp_path, compressed)
    with pytest.raises(SourceError, match=f"^{deb.name}: sha256 [0-9a-f]{{64}} does not match"):
        from_deb(deb, "0" * 64, pinned)


def test_a_file_in_the_deb_is_refused_unless_its_content_matches(tmp_path: Path, small) -> None:
    files, compressed, pinned = small
    compressed["test_labels"] = gz(files["test_labels"][:-1] + b"\x03")  # one label changed
    deb = small_deb(tmp_path, compressed)
    with pytest.raises(SourceError) as refused:
        from_deb(deb, hashlib.sha256(deb.read_bytes()).hexdigest(), pinned)
    message = str(refused.value)
    assert "t10k-labels-idx1-ubyte.gz (decompressed): sha256" in message and "\n" not in message


def test_a_damaged_deb_is_refused_in_one_line(tmp_path: Path, small) -> None:
    _, compressed, pinned = small
    deb = small_deb(tmp_path, compressed)
    deb.write_bytes(deb.read_bytes()[:-100])
    with pytest.raises(SourceError, match=r"truncated in ar member data\.tar\.xz$"):
        from_deb(deb, hashlib.sha256(deb.read_bytes()).hexdigest(), pinned)


def test_the_authors_files_are_taken_by_their_md5(tmp_path: Path, small) -> None:
    files, compressed, pinned = small
    for key, data in compressed.items():
        (tmp_path / FILES[key].name).write_bytes(data)
    assert from_folder(tmp_path, pinned) == files
    recompressed = gz(files["train_images"]) + b"\0"  # the same data, other bytes: refused
    (tmp_path / FILES["train_images"].name).write_bytes(recompressed)
    with pytest.raises(SourceError, match=r"train-images-idx3-ubyte\.gz: md5 \w+ does not match"):
        from_folder(tmp_path, pinned)
    (tmp_path / FILES["train_images"].name).unlink()
    with pytest.raises(SourceError, match=r"train-images-idx3-ubyte\.gz: no such file"):
        from_folder(tmp_path, pinned)


def test_without_apt_or_a_folder_it_says_which_to_do(tmp_path: Path) -> None:
    """On a machine without apt-get (a PATH that has none) and no FASHION_MNIST_DIR."""
    project = tmp_path / "project"
    project.mkdir()
    params = to_yaml(compose(["data=fashion_mnist", f"paths.raw={project / 'raw'}"]))
    (project / "params.yaml").write_text(params)
    env = {k: v for k, v in os.environ.items() if k != fashion_source.FOLDER_VARIABLE}
    env["PATH"] = str(tmp_path / "no-apt")  # the interpreter is named by its full path
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[3])
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.stages.fetch"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: no apt-get here and FASHION_MNIST_DIR is not set.")
    assert (
        "apt-get" in line and "FASHION_MNIST_DIR=" in line and "t10k-images-idx3-ubyte.gz" in line
    )


@pytest.mark.slow
def test_real_fetch_of_debians_package(tmp_path: Path) -> None:
    """apt-get download of the real package (31 MB), every pin checked, then the two CSVs."""
    found, source = fashion_source.fetch_files(folder=None)
    assert "dataset-fashion-mnist" in source
    assert [len(found[key]) for key in FILES] == [47_040_016, 60_008, 7_840_016, 10_008]
    train_csv, test_csv = write_fashion_csvs(found, tmp_path)
    test = read_digits_csv(test_csv, require_labels=True)
    assert test.labels[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert np.bincount(test.labels).tolist() == [1000] * 10
    train = read_digits_csv(train_csv, require_labels=True)
    assert np.bincount(train.labels).tolist() == [6000] * 10


def test_prepare_says_how_to_fetch_a_missing_dataset(tmp_path: Path) -> None:
    """A sweep over data=fashion_mnist before any fetch: prepare names the command."""
    from pipeline.config import validate
    from pipeline.data.image_csv import DataError
    from pipeline.stages.prepare import prepare

    cfg = validate(compose(["data=fashion_mnist", f"paths.raw={tmp_path}"]))
    with pytest.raises(DataError, match="`dvc exp run -S data=fashion_mnist`"):
        prepare(cfg)
