"""The machine says no: a full disk, a read-only filesystem, a folder one may not write, an
output path that is a folder or sits under a file. Every stage ends with one ``error:`` line
naming the output, exit 1; the earlier outputs stay byte for byte as they were, no temp file is
left, and the MLflow run is FAILED, not RUNNING. Real filesystems (``tests/mounts.py``)."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from pipeline.config import Config, compose, to_yaml, validate
from pipeline.io import all_or_nothing, write_text
from pipeline.stages.evaluate import evaluate
from pipeline.stages.prepare import prepare
from pipeline.stages.train import train_tracked
from tests.conftest import paused_training, tiny_overrides, unavailable
from tests.mounts import fill, read_only, small_disk, snapshot

EPOCHS = 30


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """One MLflow store for the module's runs: making a new one takes seconds."""
    return tmp_path_factory.mktemp("store") / "mlflow.db"


def project(folder: Path, outputs: Path, csvs: tuple[Path, Path], *stages: str) -> Path:
    """``folder`` with a params.yaml whose every output goes into ``outputs``, and the outputs
    of ``stages`` (of prepare, train, evaluate: run here, untracked)."""
    folder.mkdir(parents=True, exist_ok=True)
    overrides = tiny_overrides(outputs, csvs, epochs=EPOCHS, val_size=60, experiment="refusals")
    (folder / "params.yaml").write_text(to_yaml(compose(overrides)))
    cfg: Config = validate(compose(overrides))
    runs = {
        "prepare": lambda: prepare(cfg),
        "train": lambda: train_tracked(cfg, None, echo=False),
        "evaluate": lambda: evaluate(cfg),
    }
    for name in stages:
        runs[name]()
    return folder


def stage(folder: Path, store: Path, name: str, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", f"pipeline.stages.{name}", *arguments],
        cwd=folder,
        env=environment(store),
        capture_output=True,
        text=True,
        check=False,
    )


def environment(store: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{store}",  # not on the small disk
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr
    return result


def refused(result: subprocess.CompletedProcess, *words: str) -> str:
    """The one ``error:`` line of a refused write, after checking it ends stderr (MLflow's
    own log lines may come before it), no traceback came, and the exit code is 1."""
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert lines[-1].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    assert [line for line in lines if line.startswith("error")] == lines[-1:], result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    return result.stderr


def last_run_status(store: Path) -> str:
    client = MlflowClient(f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("refusals")
    (run,) = client.search_runs([experiment.experiment_id], max_results=1)  # the newest
    return run.info.status


def test_prepare_on_a_full_disk_keeps_the_last_splits(tmp_path, small_csvs, store):
    with small_disk(tmp_path / "disk", "4m") as disk:
        folder = project(tmp_path / "p", disk, small_csvs, "prepare")
        before = snapshot(disk)
        fill(disk, leave=64_000)
        line = refused(
            stage(folder, store, "prepare"),
            f"error: {disk / 'prepared'}: no space left on device while writing the prepared "
            "splits (",
            "MB needed",
            "free)",
        )
        assert snapshot(disk) == before, line  # the old splits, and no temp file


def test_training_when_the_disk_fills_up_between_two_epochs(tmp_path, small_csvs, store):
    """The disk fills after epoch 3: the next checkpoint cannot be written. The weights and
    history of the training before are kept, the checkpoint of epoch 3 too; the run FAILED."""
    with small_disk(tmp_path / "disk", "4m") as disk:
        folder = project(tmp_path / "p", disk, small_csvs, "prepare", "train")
        (folder / "params.yaml").write_text(
            (folder / "params.yaml").read_text().replace("seed: 0", "seed: 1")
        )
        before = snapshot(disk)
        process = paused_training(folder, environment(store), epoch=3)
        fill(disk)
        process.send_signal(signal.SIGCONT)
        out, err = process.communicate(timeout=120)
        result = subprocess.CompletedProcess(process.args, process.returncode, out, err)
        model = disk / "models" / "model.npz"
        refused(
            result,
            f"error: {disk / 'models' / 'model.checkpoint.npz'}: no space left on device "
            "while writing the checkpoint (0 kB free)",
        )
        after = snapshot(disk)
        assert after.pop("models/model.checkpoint.npz")  # of an epoch >= 3: resumable
        assert after == before and model.exists()
        assert last_run_status(store) == "FAILED"


def test_training_into_a_read_only_folder_fails_the_run(tmp_path, small_csvs, store):
    folder = project(tmp_path / "p", tmp_path / "out", small_csvs, "prepare")
    with read_only(tmp_path / "out" / "models") as models:
        refused(
            stage(folder, store, "train"),
            f"error: {models / 'model.checkpoint.npz'}: read-only filesystem while writing the "
            "checkpoint",
        )
        assert list(models.iterdir()) == []
    assert last_run_status(store) == "FAILED"


def test_evaluate_on_a_full_disk_keeps_the_last_reports(tmp_path, small_csvs, store):
    with small_disk(tmp_path / "disk", "6m") as disk:
        folder = project(tmp_path / "p", disk, small_csvs, "prepare", "train", "evaluate")
        before = snapshot(disk / "reports")
        assert "report.md" in before and "confusion.png" in before
        fill(disk, leave=40_000)  # room for some reports, not all
        refused(stage(folder, store, "evaluate"), "no space left on device (")
        assert snapshot(disk / "reports") == before


def test_predict_refusals_name_the_output(tmp_path, small_csvs, store):
    """A folder where the submission should go, a file where its folder should be, a folder
    this user may not write (as another user: root may write anywhere)."""
    folder = project(tmp_path / "p", tmp_path / "out", small_csvs, "prepare", "train")
    model, csv = str(tmp_path / "out" / "models" / "model.npz"), str(small_csvs[1])
    (folder / "taken").mkdir()
    refused(
        stage(folder, store, "predict", "--csv", csv, "--model", model, "--output", "taken"),
        "error: taken: is a folder, not a file while writing the submission",
    )
    (tmp_path / "p" / "a-file").write_text("x")
    refused(
        stage(folder, store, "predict", "--csv", csv, "--model", model, "--output", "a-file/x"),
        "error: a-file/x: cannot be written: a-file is a file, not a folder",
    )
    assert (tmp_path / "p" / "a-file").read_text() == "x"


def test_a_folder_of_another_user_is_permission_denied(tmp_path, small_csvs, store):
    """The folder belongs to another user; the stage runs as root without the capabilities that
    let root write anywhere (``setpriv``: its Python lives in root's home, which another user
    could not even read)."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        unavailable("needs root and setpriv (util-linux) to run a stage without root's override")
    folder = project(tmp_path / "p", tmp_path / "out", small_csvs, "prepare", "train")
    theirs = folder / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, 65534, 65534)
    model = tmp_path / "out" / "models" / "model.npz"
    arguments = ["--csv", str(small_csvs[1]), "--model", str(model), "--output", "theirs/sub.csv"]
    without_override = [setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner"]
    result = subprocess.run(
        [*without_override, sys.executable, "-m", "pipeline.stages.predict", *arguments],
        cwd=folder,
        env=environment(store),
        capture_output=True,
        text=True,
        check=False,
    )
    refused(result, "error: theirs/sub.csv: permission denied while writing the submission")
    assert list(theirs.iterdir()) == []


def python(store: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *arguments],
        env=environment(store),
        capture_output=True,
        text=True,
        check=False,
    )


def test_tools_that_write_into_a_read_only_folder_say_so_in_one_line(tmp_path, store):
    """compare's curves and the cluster's state folder (the other tools write through the same
    helpers; ``bench`` and ``params`` with ``write_json``/``write_text``)."""
    client = MlflowClient(f"sqlite:///{store}")
    run = client.create_run(client.create_experiment("tools"))
    client.log_metric(run.info.run_id, "val_accuracy", 0.5, step=1)
    client.set_terminated(run.info.run_id)
    with read_only(tmp_path / "ro") as folder:
        png = folder / "curves.png"
        compare = ("-m", "pipeline.tools.compare", "--all", "--experiment", "tools", "--png")
        refused(
            python(store, *compare, str(png)),
            f"error: {png}: read-only filesystem while writing the curves",
        )
        state = folder / "cluster"
        refused(
            python(store, "-m", "pipeline.cluster", "start", "--dir", str(state)),
            f"error: {state}: the cluster did not start: {state}: read-only filesystem",
        )
        raw = folder / "pid"  # a write of a library's own, past pipeline.io: the entry point's line
        code = f"from pipeline.cli import run_stage; run_stage(lambda: open({str(raw)!r}, 'w'))"
        refused(python(store, "-c", code), f"error: {raw}: read-only filesystem")
        assert list(folder.iterdir()) == []


def test_outputs_written_together_take_their_places_with_the_outermost_block(tmp_path):
    """train writes its weights and history in one block, inside another with the dynamics:
    a failure after the inner block keeps every old file, and no temp file."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_text("old first")
    second.write_text("old second")
    with pytest.raises(RuntimeError), all_or_nothing():
        with all_or_nothing():
            write_text(first, "new first")
        assert first.read_text() == "old first"  # not yet: the outer block may still fail
        write_text(second, "new second")
        raise RuntimeError("the disk filled up")
    assert snapshot(tmp_path) == {"first": b"old first", "second": b"old second"}
    with all_or_nothing():
        with all_or_nothing():
            write_text(first, "new first")
        write_text(second, "new second")
    assert snapshot(tmp_path) == {"first": b"new first", "second": b"new second"}
