"""docs/tracking.md, "Tracking" and "A remote tracking server": where runs go, the line for a server
that does not answer, and MLflow's run links switched off when the URI holds a password."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import PROJECT_ROOT
from pipeline.tracking import mlflow_runs
from tests.guides import page

TRACKING = page("tracking.md")


def test_without_a_uri_runs_go_to_the_projects_own_sqlite_store(monkeypatch, tmp_path):
    """docs/tracking.md: "Runs go to `MLFLOW_TRACKING_URI` if it is set, else to the project's own
    SQLite store `mlflow.db` ..., at an absolute path resolved from the project root" (wherever the
    process runs)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    uri = mlflow_runs.tracking_uri()
    assert uri == f"sqlite:///{PROJECT_ROOT.resolve() / 'mlflow.db'}"
    assert Path(uri.removeprefix("sqlite:///")).is_absolute()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert mlflow_runs.tracking_uri() == "http://127.0.0.1:5000"


def test_mlflows_file_store_is_refused_unless_allowed(monkeypatch, tmp_path):
    """docs/tracking.md: "MLflow's file store (`./mlruns`) is deprecated and refused unless
    `MLFLOW_ALLOW_FILE_STORE=true`" (MLflow, as pinned in the lock)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    with pytest.raises(MlflowException, match="filesystem tracking backend"):
        MlflowClient(str(tmp_path / "mlruns")).search_experiments()
    assert not (tmp_path / "mlruns").exists()
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    (default,) = MlflowClient(str(tmp_path / "mlruns")).search_experiments()
    assert default.name == "Default"


def test_an_unreachable_server_is_the_readmes_line(refused_port):
    """The guide's line, word for word but for the port and the elided hint."""
    (shown,) = re.findall(r"^error: cannot reach the MLflow tracking server at .*$", TRACKING, re.M)
    port = refused_port
    with pytest.raises(mlflow_runs.TrackingError) as refused:
        mlflow_runs.check_reachable(f"http://127.0.0.1:{port}", timeout=5)
    line = re.sub(r"\(`mlflow server [^)]*\)", "(...)", f"error: {refused.value}")
    assert line == shown.replace("5999", str(port))


@pytest.mark.parametrize(
    ("uri", "suppressed"),
    [("http://user:secret@127.0.0.1:5999", True), ("http://127.0.0.1:5999", False)],
)
def test_credentials_in_the_uri_switch_off_mlflows_run_links(monkeypatch, uri, suppressed):
    """docs/tracking.md: "With credentials in the URI, MLflow's own `View run at` links (which
    repeat the URI as given) are switched off (`MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT`)"."""
    monkeypatch.setenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "")  # restored afterwards
    monkeypatch.delenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT")
    mlflow_runs.client_for(uri)  # a client only: nothing is sent to the server yet
    assert (os.environ.get("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT") == "true") is suppressed


STAGE = """\
import json
from pipeline.tracking import mlflow_runs
from tests.guides import page
print(json.dumps({"tags": mlflow_runs.dvc_tags(), "name": mlflow_runs.stage_run_name()}))
"""


def test_dvc_names_the_stage_and_the_run_is_named_after_the_commit_or_the_experiment(tmp_path):
    """A run's name is "the DVC experiment's (`dvc exp run`), `repro 1a2b3c4` (`dvc repro` at
    that commit)", and "from DVC `dvc.experiment`/`dvc.stage`" tags: what a stage that the real
    `dvc` runs gets (the commit is the project's, whose code runs)."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
    }
    for name in ("DVC_EXP_NAME", "DVC_STAGE", "DVC_EXP_BASELINE_REV"):
        env.pop(name, None)

    def run(*command: str) -> None:
        subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True)

    (tmp_path / "stage.py").write_text(STAGE)
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  train:\n    cmd: python stage.py > seen.json\n    deps: [stage.py]\n"
        "    outs: [seen.json]\n"
    )
    run("git", "init", "-q")
    run("dvc", "init", "-q")
    run("git", "add", "-A")
    run("git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "c")
    commit = subprocess.run(
        ["git", "rev-parse", "--short=7", "HEAD"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    run("dvc", "repro")
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen == {"tags": {"dvc.stage": "train"}, "name": f"repro {commit}"}

    run("dvc", "exp", "run", "-n", "lr-high", "--force")
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["name"] == "lr-high" and seen["tags"]["dvc.experiment"] == "lr-high"
    assert seen["tags"]["dvc.stage"] == "train"
