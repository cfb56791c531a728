"""The lock around creating the local MLflow store: a wait is announced, and a holder that
never lets go is an error naming the lock file, not a training that hangs."""

import fcntl
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.tracking import mlflow_runs


@pytest.fixture
def held_lock(tmp_path, monkeypatch):
    """The store lock of a project in tmp_path, held by another process until the test ends."""
    monkeypatch.setattr(mlflow_runs, "store_root", lambda: tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from filelock import FileLock; lock = FileLock(sys.argv[1]); "
            "lock.acquire(); print('held', flush=True); sys.stdin.read()",
            str(tmp_path / mlflow_runs.LOCK_FILE),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline() == "held\n"
    yield tmp_path / mlflow_runs.LOCK_FILE
    holder.stdin.close()
    holder.wait(timeout=30)


def test_a_lock_held_too_long_is_an_error_naming_the_lock_file(held_lock, monkeypatch, capsys):
    monkeypatch.setattr(mlflow_runs, "LOCK_NOTICE_SECONDS", 0.1)
    monkeypatch.setattr(mlflow_runs, "LOCK_TIMEOUT_SECONDS", 0.3)
    with pytest.raises(mlflow_runs.TrackingError) as error:
        mlflow_runs.client_for(f"sqlite:///{held_lock.parent / 'mlflow.db'}")
    assert str(error.value).startswith(f"{held_lock}: waited 0.3 s for this lock, which another")
    assert capsys.readouterr().err == (
        f"waiting for {held_lock}: another process is creating the MLflow store\n"
    )
    assert not (held_lock.parent / "mlflow.db").exists()


def lock_is_free(path: Path) -> bool:
    """Whether nobody, this process included, holds the flock that FileLock takes on ``path``
    (flock locks belong to an open file, so another open of it in this process conflicts too)."""
    with path.open("a") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(file, fcntl.LOCK_UN)
        return True


@pytest.mark.parametrize("exists", [True, False], ids=["existing store", "new store"])
def test_only_creating_the_store_holds_the_lock(tmp_path, monkeypatch, exists):
    """The first client of a store, which creates its schema, is made under the lock; a client
    of an existing store (MLflow checks its schema: seconds) is made with the lock free, so
    parallel jobs opening the store do not queue up for it."""
    import mlflow

    monkeypatch.setattr(mlflow_runs, "store_root", lambda: tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    if exists:
        mlflow.MlflowClient(tracking_uri=uri).search_experiments()  # creates it
    made_with_the_lock_free = []
    client = mlflow.MlflowClient

    def recording(*args, **kwargs):
        made_with_the_lock_free.append(lock_is_free(tmp_path / mlflow_runs.LOCK_FILE))
        return client(*args, **kwargs)

    monkeypatch.setattr(mlflow, "MlflowClient", recording)
    mlflow_runs.client_for(uri)
    assert made_with_the_lock_free == [exists]
