"""Fashion-MNIST's four original IDX files, from Debian's package or from a folder, verified.

Two ways in, each checked before a byte of it is used:

- Debian's package ``dataset-fashion-mnist``, downloaded by ``apt-get download`` into a
  temporary folder (nothing is installed); the ``.deb``'s SHA-256 is pinned. It is an ``ar``
  archive whose ``data.tar.*`` member holds the four ``.gz`` files, read here in Python.
- A folder the user names in ``FASHION_MNIST_DIR``, holding the four ``.gz`` files from the
  dataset's home page (zalandoresearch/fashion-mnist): each must have the MD5 its authors
  publish. Debian's copies were recompressed, so their MD5s differ, and they are not taken here.

Either way the DECOMPRESSED files must have the SHA-256 pinned below, so both ways give the same
bytes. Anything else is refused in one line naming the file and what did not match.
"""

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import PipelineError

PACKAGE = "dataset-fashion-mnist"
PACKAGE_VERSION = "0.0~git20200523.55506a9-1"
DEB_SHA256 = "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0"
PACKAGE_FOLDER = "usr/share/datasets/fashion-mnist/"  # inside the package's data.tar
FOLDER_VARIABLE = "FASHION_MNIST_DIR"
AR_MAGIC = b"!<arch>\n"
AR_HEADER = 60  # bytes: name 16, mtime 12, uid 6, gid 6, mode 8, size 10, "`\n"


@dataclass(frozen=True)
class IdxFile:
    name: str  # as the authors and the package name it
    authors_md5: str  # of the authors' .gz download
    sha256: str  # of the decompressed IDX file


FILES = {
    "train_images": IdxFile(
        "train-images-idx3-ubyte.gz",
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    "train_labels": IdxFile(
        "train-labels-idx1-ubyte.gz",
        "25c81989df183df01b3e8a0aad5dffbe",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    "test_images": IdxFile(
        "t10k-images-idx3-ubyte.gz",
        "bef4ecab320f06d8554ea6380940ec79",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    "test_labels": IdxFile(
        "t10k-labels-idx1-ubyte.gz",
        "bb300cfdad3c16e7a12a480ee83cd310",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
}
NO_SOURCE = (
    f"Fashion-MNIST needs one of two sources: apt-get (Debian's package {PACKAGE}; run "
    "`apt-get update` once if apt-get cannot find it), or the four .gz files from the dataset's "
    "home page (zalandoresearch/fashion-mnist: "
    + ", ".join(f.name for f in FILES.values())
    + f") in a folder named by {FOLDER_VARIABLE}, e.g. `{FOLDER_VARIABLE}=~/Downloads "
    "dvc exp run -S data=fashion_mnist`"
)


class SourceError(PipelineError):
    """The files could not be had, or they are not the ones pinned here."""


def _mismatch(what: str, kind: str, actual: str, expected: str) -> SourceError:
    return SourceError(f"{what}: {kind} {actual} does not match the expected {expected}")


def decompressed(what: str, data: bytes, spec: IdxFile) -> bytes:
    """The IDX file inside ``data`` (gzip), checked against its pinned SHA-256."""
    try:
        idx = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise SourceError(f"{what}: damaged gzip data ({str(error) or 'it ends early'})") from None
    actual = hashlib.sha256(idx).hexdigest()
    if actual != spec.sha256:
        raise _mismatch(f"{what} (decompressed)", "sha256", actual, spec.sha256)
    return idx


def from_folder(folder: Path, files: dict[str, IdxFile] = FILES) -> dict[str, bytes]:
    """The decompressed ``files``, from the authors' ``.gz`` files in ``folder``."""
    if not folder.is_dir():
        raise SourceError(f"{folder}: no such folder ({FOLDER_VARIABLE} names it)")
    found = {}
    for key, spec in files.items():
        path = folder / spec.name
        if not path.is_file():
            raise SourceError(f"{path}: no such file; {FOLDER_VARIABLE}'s folder needs all four")
        data = path.read_bytes()
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if md5 != spec.authors_md5:
            raise _mismatch(str(path), "md5", md5, f"{spec.authors_md5} its authors publish")
        found[key] = decompressed(str(path), data, spec)
    return found


def ar_members(data: bytes, what: str) -> dict[str, bytes]:
    """The members of an ``ar`` archive (a ``.deb`` is one): name -> bytes."""
    if not data.startswith(AR_MAGIC):
        raise SourceError(f"{what}: not an ar archive (a .deb starts {AR_MAGIC!r})")
    members, offset = {}, len(AR_MAGIC)
    while offset < len(data):
        header = data[offset : offset + AR_HEADER]
        size_field = header[48:58].strip()
        if len(header) < AR_HEADER or header[58:60] != b"`\n" or not size_field.isdigit():
            raise SourceError(f"{what}: a damaged ar member header at byte {offset}")
        name = header[:16].decode("ascii", "replace").strip().removesuffix("/")
        start, size = offset + AR_HEADER, int(size_field)
        if start + size > len(data):
            raise SourceError(f"{what}: truncated in ar member {name}")
        members[name] = data[start : start + size]
        offset = start + size + size % 2  # members start on even bytes
    return members


def from_deb(
    deb: Path, deb_sha256: str = DEB_SHA256, files: dict[str, IdxFile] = FILES
) -> dict[str, bytes]:
    """The decompressed ``files``, from the package's ``data.tar.*`` member."""
    data = deb.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != deb_sha256:
        raise _mismatch(deb.name, "sha256", actual, deb_sha256)
    members = ar_members(data, deb.name)
    tar_name = next((name for name in members if name.startswith("data.tar")), None)
    if tar_name is None:
        raise SourceError(f"{deb.name}: no data.tar member (members: {', '.join(members)})")
    found = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(members[tar_name])) as archive:
            by_name = {member.name.removeprefix("./"): member for member in archive}
            for key, spec in files.items():
                wanted = PACKAGE_FOLDER + spec.name
                member = by_name.get(wanted)
                source = archive.extractfile(member) if member is not None else None
                if source is None:
                    raise SourceError(f"{deb.name}: no file /{wanted} in {tar_name}")
                found[key] = decompressed(f"{deb.name}:/{wanted}", source.read(), spec)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise SourceError(f"{deb.name}: {tar_name} cannot be read ({error})") from None
    return found


def download_deb(folder: Path) -> Path:
    """``apt-get download`` the package into ``folder``; its path."""
    command = ["apt-get", "download", f"{PACKAGE}={PACKAGE_VERSION}"]
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    debs = sorted(folder.glob(f"{PACKAGE}_*.deb"))
    if result.returncode != 0 or len(debs) != 1:
        raise SourceError(
            f"`{' '.join(command)}` failed (exit {result.returncode}): "
            f"{result.stderr.strip()[-1500:]}\n{NO_SOURCE}"
        )
    return debs[0]


def fetch_files(folder: str | None = None) -> tuple[dict[str, bytes], str]:
    """The four decompressed IDX files (``FILES``' keys -> bytes) and where they came from:
    ``folder`` (by default ``FASHION_MNIST_DIR``) when one is named, else Debian's package."""
    folder = folder or os.environ.get(FOLDER_VARIABLE)
    if folder:
        path = Path(folder).expanduser()
        return from_folder(path), f"the authors' files in {path} (md5 and sha256 verified)"
    if shutil.which("apt-get") is None:
        raise SourceError(f"no apt-get here and {FOLDER_VARIABLE} is not set. {NO_SOURCE}")
    with tempfile.TemporaryDirectory(prefix="fashion-mnist-deb-") as tmp:
        files = from_deb(download_deb(Path(tmp)))
    return files, f"Debian's {PACKAGE} {PACKAGE_VERSION} (sha256 {DEB_SHA256[:12]}... verified)"
