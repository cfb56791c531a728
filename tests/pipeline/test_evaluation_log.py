"""The evaluation logged into its training's MLflow run: in-process (sweeps), and from the child
process the evaluate stage starts, against a real SQLite store."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from mlflow import MlflowClient

from pipeline import phases
from pipeline.config import compose, to_yaml
from pipeline.tracking import evaluation_log
from tests.conftest import tiny_overrides, write_digits_csv

EXPERIMENT = "test-evaluation-log"
EPOCHS = 3
MISSING_RUN = "0123456789abcdef0123456789abcdef"
REPORT_HEADING = "# Evaluation on the test split"


def environment(uri: str) -> dict[str, str]:
    return {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_TRACKING_URI": uri}


def run(command: list[str], cwd: Path, uri: str, **kwargs) -> subprocess.CompletedProcess:
    options = kwargs if "stdout" in kwargs else {"capture_output": True, **kwargs}
    return subprocess.run(
        command, cwd=cwd, env=environment(uri), text=True, check=False, timeout=600, **options
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> SimpleNamespace:
    """prepare and train once (tracking on, a fresh SQLite store): the model, the prepared data
    and train's MLflow run, which the tests evaluate into folders of their own."""
    folder = tmp_path_factory.mktemp("trained")
    csvs = folder / "csv" / "train.csv", folder / "csv" / "test.csv"
    write_digits_csv(csvs[0], 300, seed=1)
    write_digits_csv(csvs[1], 100, seed=2)
    overrides = tiny_overrides(folder, csvs, epochs=EPOCHS, experiment=EXPERIMENT)
    (folder / "params.yaml").write_text(to_yaml(compose(overrides)))
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    for stage in ("prepare", "train"):
        result = run([sys.executable, "-m", f"pipeline.stages.{stage}"], folder, uri)
        assert result.returncode == 0, result.stdout + result.stderr
    run_file = json.loads((folder / "reports" / "run.json").read_text())
    return SimpleNamespace(
        folder=folder,
        csvs=csvs,
        uri=uri,
        run_id=run_file["run_id"],
        experiment_id=run_file["experiment_id"],
    )


def evaluation_project(folder: Path, trained: SimpleNamespace, run_id: str) -> None:
    """params.yaml in ``folder`` reading train's model and data, reporting into folder/reports
    (with train's history.csv and a run.json naming ``run_id``)."""
    overrides = [
        o
        for o in tiny_overrides(trained.folder, trained.csvs, epochs=EPOCHS, experiment=EXPERIMENT)
        if not o.startswith("paths.reports=")
    ]
    reports = folder / "reports"
    (folder / "params.yaml").write_text(to_yaml(compose([*overrides, f"paths.reports={reports}"])))
    reports.mkdir()
    shutil.copy(trained.folder / "reports" / "history.csv", reports)
    run_file = json.loads((trained.folder / "reports" / "run.json").read_text())
    (reports / "run.json").write_text(json.dumps({**run_file, "run_id": run_id}))


def evaluate(folder: Path, uri: str, **kwargs) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "pipeline.stages.evaluate"], folder, uri, **kwargs)


def artifact_names(client: MlflowClient, run_id: str) -> set[str]:
    return {a.path for a in client.list_artifacts(run_id, "reports")}


def new_run(trained: SimpleNamespace) -> tuple[MlflowClient, str]:
    client = MlflowClient(trained.uri)
    return client, client.create_run(trained.experiment_id).info.run_id


def test_evaluate_logs_test_metrics_at_the_last_epoch_and_the_reports(tmp_path, trained):
    evaluation_project(tmp_path, trained, trained.run_id)
    result = evaluate(tmp_path, trained.uri)
    assert result.returncode == 0, result.stdout + result.stderr
    assert REPORT_HEADING in result.stdout and "warning" not in result.stderr

    client = MlflowClient(trained.uri)
    metrics = json.loads((tmp_path / "reports" / "metrics.json").read_text())["test"]
    for name in ("accuracy", "loss"):
        (logged,) = client.get_metric_history(trained.run_id, f"test_{name}")
        assert logged.step == EPOCHS
        assert logged.value == pytest.approx(metrics[name])
    written = {f"reports/{p.name}" for p in (tmp_path / "reports").iterdir()}
    assert {"reports/report.md", "reports/confusion.png", "reports/metrics.json"} <= written
    assert artifact_names(client, trained.run_id) == written


def warnings_in(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("warning:")]


def test_a_run_missing_from_the_store_is_one_warning_and_exit_0(tmp_path, trained):
    evaluation_project(tmp_path, trained, MISSING_RUN)
    result = evaluate(tmp_path, trained.uri)
    assert result.returncode == 0, result.stdout + result.stderr
    assert REPORT_HEADING in result.stdout and "accuracy **" in result.stdout
    (warning,) = warnings_in(result.stderr)
    assert warning.startswith(
        f"warning: logging the evaluation into run {MISSING_RUN} to MLflow failed: "
    )
    assert "Traceback" not in result.stderr
    assert (tmp_path / "reports" / "report.md").is_file()  # the reports are all written


def test_the_warning_comes_after_the_report(tmp_path, trained):
    """One pipe for both streams: what a user sees, in the order they see it."""
    evaluation_project(tmp_path, trained, MISSING_RUN)
    result = evaluate(tmp_path, trained.uri, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert result.returncode == 0, result.stdout
    output = result.stdout.splitlines()
    (warning,) = warnings_in(result.stdout)
    report_end = max(i for i, line in enumerate(output) if line.startswith("| **9** |"))
    assert output.index(REPORT_HEADING) < report_end < output.index(warning)


@pytest.mark.parametrize("how", ["stdin closed", "stage failed"])
def test_without_a_line_the_child_logs_nothing(tmp_path, trained, monkeypatch, how):
    client, run_id = new_run(trained)
    if how == "stdin closed":
        command = [sys.executable, "-m", evaluation_log.MODULE, run_id]
        result = run(command, tmp_path, trained.uri, stdin=subprocess.DEVNULL)
        code, stderr = result.returncode, result.stderr
    else:  # the stage's path: an error inside the block closes the pipe
        monkeypatch.setenv("MLFLOW_TRACKING_URI", trained.uri)
        monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        with pytest.raises(RuntimeError), evaluation_log.EvaluationLog(run_id) as log:
            raise RuntimeError("the evaluation failed")
        assert log.child.stdin is not None and log.child.stdin.closed  # its end of the line
        code, stderr = log.child.wait(timeout=600), ""
    assert code == 0, stderr
    assert "warning" not in stderr
    logged = client.get_run(run_id)
    assert logged.data.metrics == {} and client.list_artifacts(run_id) == []


def ignores(pid: int, signum: int) -> bool:
    """Whether process ``pid`` ignores ``signum`` (its SigIgn mask in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    raise AssertionError("no SigIgn in /proc status")


def wait_until_it_ignores_signals(child: subprocess.Popen) -> None:
    """Until the child has passed its ``signal.signal(..., SIG_IGN)`` calls (both, or one of them
    0.3 s ago: a child that ignores only one of the two is not waited for until the deadline)."""
    deadline, first_seen = time.monotonic() + 30, None
    while True:
        ignored = [ignores(child.pid, signum) for signum in (signal.SIGINT, signal.SIGTERM)]
        if all(ignored):
            return
        if any(ignored):
            first_seen = first_seen or time.monotonic()
            if time.monotonic() > first_seen + 0.3:
                return
        assert child.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)


def test_the_child_ignores_ctrl_c_and_sigterm_while_it_opens_the_store(tmp_path, trained):
    client, run_id = new_run(trained)
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "report.md").write_text("# Evaluation\n")
    phases_file = tmp_path / "phases.jsonl"
    child = subprocess.Popen(
        [sys.executable, "-m", evaluation_log.MODULE, run_id],
        cwd=tmp_path,
        env={**environment(trained.uri), phases.ENV: str(phases_file)},
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_it_ignores_signals(child)
        child.send_signal(signal.SIGINT)
        child.send_signal(signal.SIGTERM)
        opened = "tracking: opening the store (logging process)"
        assert opened not in phases_file.read_text()  # the signals came while it opened it
        time.sleep(0.2)
        assert child.poll() is None
        request = {"metrics": {"test": {"accuracy": 0.5, "loss": 1.25, "n": 4}}}
        _, stderr = child.communicate(json.dumps({**request, "reports": str(reports), "step": 7}))
    finally:
        child.kill()  # a no-op once it has exited
        child.wait()
    assert child.returncode == 0, stderr
    assert "warning" not in stderr
    (accuracy,) = client.get_metric_history(run_id, "test_accuracy")
    assert (accuracy.value, accuracy.step) == (0.5, 7)
    assert client.get_run(run_id).data.metrics == {"test_accuracy": 0.5, "test_loss": 1.25}
    assert artifact_names(client, run_id) == {"reports/report.md"}
    assert opened in phases_file.read_text()


def test_a_child_that_dies_is_one_warning(monkeypatch, capfd):
    monkeypatch.setattr(evaluation_log, "MODULE", "pipeline.no_such_module")
    log = evaluation_log.EvaluationLog("abc123")
    log.send({"test": {"accuracy": 1.0, "loss": 0.0}}, "reports", step=3)
    (warning,) = warnings_in(capfd.readouterr().err)
    assert warning == (
        "warning: logging the evaluation into run abc123 to MLflow failed: the process that "
        "logs it exited with code 1"
    )


class RecordingRun:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def log_metrics(self, values: dict, step: int = 0) -> None:
        self.calls.append(("metrics", values, step))

    def log_artifacts(self, folder, artifact_path=None) -> None:
        self.calls.append(("artifacts", folder, artifact_path))


def test_log_evaluation_in_process():
    """What a sweep's job logs: the test metrics at the last epoch, then the reports folder; an
    evaluation on the validation split (no test labels) logs the reports only."""
    run = RecordingRun()
    metrics = {"test": {"accuracy": 0.9, "loss": 0.3, "n": 100}, "val": {"accuracy": 0.8}}
    evaluation_log.log_evaluation(run, metrics, "out/reports", step=5)
    assert run.calls == [
        ("metrics", {"test_accuracy": 0.9, "test_loss": 0.3}, 5),
        ("artifacts", "out/reports", "reports"),
    ]
    run = RecordingRun()
    evaluation_log.log_evaluation(run, {"val": {"accuracy": 0.8}}, "r", step=5)
    assert run.calls == [("artifacts", "r", "reports")]
