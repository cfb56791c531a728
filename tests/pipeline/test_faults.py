"""A real training process, interrupted: nothing partial is left, and a killed one resumes."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from pipeline.config import compose, to_yaml, validate
from pipeline.stages.prepare import prepare
from tests.conftest import tiny_overrides, write_digits_csv

EPOCHS = 30


@pytest.fixture(scope="module")
def csvs(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("csv")
    write_digits_csv(folder / "train.csv", 2000, seed=1)
    write_digits_csv(folder / "test.csv", 100, seed=2)
    return folder / "train.csv", folder / "test.csv"


def project(folder: Path, csvs: tuple[Path, Path], *extra: str) -> Path:
    """A folder with params.yaml and prepared data, ready for `python -m pipeline.stages.train`."""
    folder.mkdir(parents=True, exist_ok=True)
    overrides = tiny_overrides(
        folder, csvs, epochs=EPOCHS, batch_size=64, hidden="[64]", val_size=200, experiment="faults"
    )
    overrides += extra
    (folder / "params.yaml").write_text(to_yaml(compose(overrides)))
    prepare(validate(compose(overrides)))
    return folder


def env(folder: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }


def train_until_epoch(folder: Path, epoch: int, signum: int) -> subprocess.CompletedProcess:
    """Start a real training, and send ``signum`` once it has printed ``epoch``: frozen
    (SIGSTOP) first, so that however fast it runs it is still training when the signal comes
    (it is at most a few of its EPOCHS epochs further; SIGCONT lets it handle the signal). If a
    busy machine let it finish before it was frozen, that attempt is discarded (its outputs and
    its run removed) and the training started again."""
    for _ in range(5):
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.stages.train"],
            cwd=folder,
            env=env(folder),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith(f"epoch {epoch:>2}/{EPOCHS}"):
                process.send_signal(signal.SIGSTOP)
                break
        if process.poll() is None and not (folder / "models" / "model.npz").exists():
            process.send_signal(signum)
            process.send_signal(signal.SIGCONT)
            out, err = process.communicate(timeout=60)
            return subprocess.CompletedProcess(
                process.args, process.returncode, "".join(lines) + out, err
            )
        process.kill()  # too late: it had finished, or was writing its outputs
        _, err = process.communicate()
        assert process.returncode in (0, -signal.SIGKILL), err  # not a training that failed
        for output in ("models", "reports", "mlartifacts"):
            shutil.rmtree(folder / output, ignore_errors=True)
        (folder / "mlflow.db").unlink(missing_ok=True)
    raise AssertionError(f"training could not be caught in epoch {epoch} in 5 attempts")


def train_to_the_end(folder: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.stages.train"],
        cwd=folder,
        env=env(folder),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


def only_run(folder: Path):
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("faults").experiment_id])
    return client, run


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_an_interrupt_exits_130_leaves_no_partial_output_and_marks_the_run_killed(
    tmp_path, csvs, signum
):
    folder = project(tmp_path / "p", csvs)
    result = train_until_epoch(folder, 3, signum)
    assert result.returncode == 130, result.stderr
    assert result.stderr.endswith("interrupted: no partial output was kept\n"), result.stderr
    assert not (folder / "models" / "model.npz").exists()
    assert not list((folder / "models").glob(".*tmp"))  # no temp file left behind
    assert not (folder / "reports" / "history.csv").exists()
    _, run = only_run(folder)
    assert run.info.status == "KILLED", result.stderr


def test_killed_training_resumes_to_bit_identical_weights(tmp_path, csvs):
    reference = project(tmp_path / "reference", csvs)
    train_to_the_end(reference)
    killed = project(tmp_path / "killed", csvs)
    result = train_until_epoch(killed, 5, signal.SIGKILL)
    assert result.returncode == -signal.SIGKILL
    assert (killed / "models" / "model.checkpoint.npz").exists()
    assert not (killed / "models" / "model.npz").exists()

    resumed = train_to_the_end(killed)
    assert "resuming after epoch" in resumed.stdout
    first_epoch = int(resumed.stdout.split("resuming after epoch ")[1].split()[0])
    assert 5 <= first_epoch < EPOCHS
    with (
        np.load(reference / "models" / "model.npz") as a,
        np.load(killed / "models" / "model.npz") as b,
    ):
        assert a.files == b.files
        for key in a.files:
            assert np.array_equal(a[key], b[key]), key  # bit-identical
    assert (reference / "reports" / "history.csv").read_text() == (
        killed / "reports" / "history.csv"
    ).read_text()
    assert not (killed / "models" / "model.checkpoint.npz").exists()
    client, run = only_run(killed)  # the same MLflow run went on, with every epoch
    assert run.info.status == "FINISHED"
    steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy"))
    assert steps[0] == 1 and steps[-1] == EPOCHS and set(steps) == set(range(1, EPOCHS + 1))


def test_checkpoint_of_another_configuration_is_not_used(tmp_path, csvs):
    folder = project(tmp_path / "p", csvs)
    train_until_epoch(folder, 3, signal.SIGKILL)
    (folder / "params.yaml").write_text(
        (folder / "params.yaml").read_text().replace("lr: 0.002", "lr: 0.003")
    )
    result = train_to_the_end(folder)
    assert "another configuration" in result.stderr and "resuming" not in result.stdout


def test_diverging_training_fails_names_the_epoch_and_writes_no_model(tmp_path, csvs):
    folder = project(tmp_path / "p", csvs, "optimizer=sgd", "optimizer.lr=1e30")
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.stages.train"],
        cwd=folder,
        env=env(folder),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "error: training diverged in epoch 1: the loss is nan" in result.stderr
    assert not (folder / "models" / "model.npz").exists()
    _, run = only_run(folder)
    assert run.info.status == "FAILED" and "diverged in epoch 1" in run.data.tags["error"]
