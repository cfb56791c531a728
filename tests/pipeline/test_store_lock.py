"""The lock around creating the local MLflow store: a wait is announced, and a holder that
never lets go is an error naming the lock file, not a training that hangs."""

import subprocess
import sys

import pytest

from pipeline import tracking


@pytest.fixture
def held_lock(tmp_path, monkeypatch):
    """The store lock of a project in tmp_path, held by another process until the test ends."""
    monkeypatch.setattr(tracking, "store_root", lambda: tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from filelock import FileLock; lock = FileLock(sys.argv[1]); "
            "lock.acquire(); print('held', flush=True); sys.stdin.read()",
            str(tmp_path / tracking.LOCK_FILE),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline() == "held\n"
    yield tmp_path / tracking.LOCK_FILE
    holder.stdin.close()
    holder.wait(timeout=30)


def test_a_lock_held_too_long_is_an_error_naming_the_lock_file(held_lock, monkeypatch, capsys):
    monkeypatch.setattr(tracking, "LOCK_NOTICE_SECONDS", 0.1)
    monkeypatch.setattr(tracking, "LOCK_TIMEOUT_SECONDS", 0.3)
    with pytest.raises(tracking.TrackingError) as error:
        tracking.client_for(f"sqlite:///{held_lock.parent / 'mlflow.db'}")
    assert str(error.value).startswith(f"{held_lock}: waited 0.3 s for this lock, which another")
    assert capsys.readouterr().err == (
        f"waiting for {held_lock}: another process is creating the MLflow store\n"
    )
    assert not (held_lock.parent / "mlflow.db").exists()


def test_an_existing_store_opens_without_the_lock(held_lock, tmp_path, monkeypatch):
    """Only creating the store needs the lock: parallel jobs opening it do not queue up."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri).search_experiments()  # creates it
    monkeypatch.setattr(tracking, "LOCK_NOTICE_SECONDS", 0.1)
    monkeypatch.setattr(tracking, "LOCK_TIMEOUT_SECONDS", 0.3)
    with pytest.raises(tracking.TrackingError):  # the experiment is still created under it
        tracking.ensure_experiment(tracking.client_for(uri), "x")
