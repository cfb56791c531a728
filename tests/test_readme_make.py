"""The `make` targets the README and the guides name, run by the real `make` on a copy of the
Makefile. The programs they start (dvc, pytest, ruff, mlflow, ...) are stand-ins on the
environment's PATH that record how they were called: what is checked is what each target runs, as
they say; the programs themselves have their own tests."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from pipeline.config import PROJECT_ROOT
from tests.guides import prose

MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")

STAND_IN = """#!/bin/sh
echo "$(basename "$0")${*:+ $*}" >> "$CALLS"
if [ "$(basename "$0")" = dvc ] && [ "$1" = repro ]; then
  echo "Running stage 'train':"
  echo 'Use `dvc push` to send your updates to remote storage.'
fi
"""
PROGRAMS = [
    "dvc",
    "pytest",
    "ruff",
    "pip-audit",
    "mlflow",
    "python",
    "neuralscratch-params",
    "neuralscratch-bench",
    "neuralscratch-bench-sweep",
    "mkdocs",
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The Makefile and the files its environment depends on, an environment already built
    (its stamp newer than the lock), and stand-ins for the programs the targets start."""
    for name in ("Makefile", "requirements.lock", "pyproject.toml"):
        shutil.copy2(PROJECT_ROOT / name, tmp_path / name)
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for program in PROGRAMS:
        (bin_dir / program).write_text(STAND_IN)
        (bin_dir / program).chmod(0o755)
    stamp = tmp_path / ".venv" / ".installed"
    stamp.touch()
    later = time.time() + 1
    os.utime(stamp, (later, later))
    return tmp_path


def make(project: Path, *arguments: str) -> tuple[str, list[str]]:
    """Run ``make`` there: its stdout, and the programs it called, one line each."""
    calls = project / "calls.log"
    calls.unlink(missing_ok=True)
    result = subprocess.run(
        [MAKE, "--no-print-directory", *arguments],
        cwd=project,
        env={**os.environ, "CALLS": str(calls)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout, calls.read_text().splitlines() if calls.exists() else []


def test_make_builds_the_environment_from_the_hash_checked_lock(tmp_path):
    """No environment yet: `make run` (and every target that needs it) first creates .venv
    with python3 and installs requirements.lock with every hash checked, then the project."""
    for name in ("Makefile", "requirements.lock", "pyproject.toml"):
        shutil.copy2(PROJECT_ROOT / name, tmp_path / name)
    planned = subprocess.run(
        [MAKE, "--no-print-directory", "-n", "run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    # first it says what the next minutes are for: pip's own lines say little
    assert planned[0].startswith('echo "Building the environment in .venv from requirements.lock')
    assert "takes a few minutes" in planned[1]
    guide = (PROJECT_ROOT / "docs" / "newcomer.md").read_text()  # quoted where it is explained
    assert all(line.removeprefix("echo ").strip('"') in guide for line in planned[:2])
    assert planned[2] == "python3 -m venv .venv"
    install = [line for line in planned if "pip install" in line]
    # the locked pip first (a new venv's own pip may be too old for the lock), hash-checked
    assert "--require-hashes --no-deps -r .venv/pip.lock" in install[0]
    assert "--require-hashes -r requirements.lock" in install[1]
    assert "-e ." in install[2] and "--no-deps" in install[2]
    assert not [line for line in install if "jupyterlab" in line or "notebook" in line]
    assert planned.index("touch .venv/.installed") < next(
        i for i, line in enumerate(planned) if "dvc repro" in line
    )


def test_make_run_builds_the_environment_then_runs_dvc_repro(project):
    out, calls = make(project, "run")
    assert calls == ["dvc remote list", "dvc repro", "python -m pipeline.tools.summary"]
    assert "Running stage 'train':" in out
    # no remote configured: DVC's advice to push is left out
    assert not [line for line in out.splitlines() if line.startswith("Use `dvc push`")]


def test_make_baseline_restores_the_committed_files_then_reproduces_what_is_missing(project):
    """`make baseline`: params.yaml, dvc.lock and reports/ from the last commit, the outputs
    DVC's cache holds, then `dvc repro` for the rest (tests/test_baseline.py runs it for real)."""
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    planned = subprocess.run(
        [MAKE, "-n", "baseline"], cwd=project, capture_output=True, text=True, check=True
    ).stdout
    assert "git checkout HEAD -- params.yaml dvc.lock reports" in planned
    calls = make(project, "baseline", "-i")[1]  # -i: the empty repository has no HEAD
    assert calls == [
        "dvc checkout --allow-missing --force --quiet",
        "dvc remote list",
        "dvc repro",
        "python -m pipeline.tools.summary",
    ]


def test_make_exps_shows_what_a_learner_compares(project):
    (call,) = make(project, "exps")[1]
    assert call.startswith("dvc exp show --drop .* --sort-by test.accuracy --sort-order desc")
    columns = r"^(Experiment|optimizer\.lr|train\.batch_size|model\.hidden_sizes|"
    assert call.endswith(f"--keep {columns}val\\.accuracy|test\\.accuracy)$")


def test_make_notebook_installs_jupyterlab_apart_and_opens_the_tour(project):
    shutil.copy2(PROJECT_ROOT / "requirements-notebook.lock", project)
    (project / ".venv" / "bin" / "jupyter").write_text(STAND_IN)
    (project / ".venv" / "bin" / "jupyter").chmod(0o755)
    calls = make(project, "notebook")[1]
    install = "-m pip install --quiet --disable-pip-version-check --require-hashes --no-deps"
    assert calls == [
        f"python {install} -r requirements-notebook.lock",
        "jupyter lab --ip 127.0.0.1 --port 8888 "
        + ("--allow-root " if os.geteuid() == 0 else "")  # Jupyter refuses root without it
        + "notebooks/tour.ipynb",
    ]
    installed = (project / ".venv" / ".installed").stat().st_mtime  # in the future: see project
    os.utime(project / ".venv" / ".notebook", (installed + 1, installed + 1))
    assert make(project, "notebook")[1] == [calls[1]]  # installed once


def test_make_test_runs_the_suite_on_both_cores_and_test_quick_leaves_out_long(project):
    """`make test` is `pytest -n 3` (--dist worksteal from pyproject.toml), `make test-quick`
    the same with `-m "not long"`."""
    assert make(project, "test")[1] == ["pytest -n 3"]
    assert make(project, "test-quick")[1] == ["pytest -n 3 -m not long"]
    addopts = (PROJECT_ROOT / "pyproject.toml").read_text().split("addopts = ", 1)[1]
    assert "--dist worksteal" in addopts.splitlines()[0]
    development = prose("development.md")
    assert "`make test` runs `pytest -n 3` (pytest-xdist, `--dist worksteal`)" in development
    assert '`make test-quick` (`-m "not long"`)' in development


def test_make_params_passes_its_overrides_to_the_params_tool(project):
    assert make(project, "params")[1] == ["neuralscratch-params"]
    overrides = make(project, "params", "O=optimizer=sgd train.epochs=40")[1]
    assert overrides == ["neuralscratch-params optimizer=sgd train.epochs=40"]


def test_the_benchmark_targets_run_their_tools(project):
    assert make(project, "bench")[1] == ["neuralscratch-bench"]
    assert make(project, "bench-sweep")[1] == ["neuralscratch-bench-sweep"]
    assert make(project, "bench-recipes")[1] == ["python -m pipeline.tools.bench_recipes"]
    assert make(project, "bench-loop")[1] == ["python -m pipeline.tools.bench_loop"]


def test_make_bench_peers_times_scratchnn_alone_where_pytorch_cannot_be_installed(project):
    """PyTorch goes into an environment of its own, never the project's; here its python is a
    stand-in that makes no environment, so the install fails and the benchmark runs alone."""
    out, calls = make(project, "bench-peers")
    assert calls[0] == "python -m venv .venv-peers"
    assert calls[-1] == "python -m pipeline.tools.bench.peers"
    line = (
        "bench-peers: torch==2.13.0 could not be installed into .venv-peers: timing scratchnn alone"
    )
    assert line in out.splitlines()


def test_make_ui_prints_the_training_view_and_serves_the_projects_store(project):
    out, calls = make(project, "ui")
    line = (
        "open http://127.0.0.1:5000/#/experiments?workflowType=machine_learning "
        "(the model-training view)"
    )
    assert out.splitlines()[0] == line and line in prose("tracking.md")
    store = f"sqlite:///{project}/mlflow.db"
    assert calls == [f"mlflow ui --backend-store-uri {store} --host 127.0.0.1 --port 5000"]
    out, calls = make(project, "ui", "PORT=5001")
    assert out.startswith("open http://127.0.0.1:5001/") and calls[0].endswith("--port 5001")


def test_make_docs_builds_the_site_strictly_and_docs_serve_serves_it_on_loopback(project):
    """README: "`make docs` builds it into `site/` ..., `make docs-serve` serves it on
    http://127.0.0.1:8000"; both strict, so a broken link or anchor stops them."""
    assert make(project, "docs")[1] == ["mkdocs build --strict --site-dir site"]
    served = make(project, "docs-serve")[1]
    assert served == ["mkdocs serve --strict --dev-addr 127.0.0.1:8000"]
    assert make(project, "docs-serve", "PORT=8001")[1][0].endswith("127.0.0.1:8001")
    readme = prose("README.md")
    assert "`make docs` builds it into `site/`" in readme
    assert "`make docs-serve` serves it on http://127.0.0.1:8000" in readme


def test_the_cluster_targets_run_pipeline_cluster(project):
    assert make(project, "cluster")[1] == ["python -m pipeline.cluster start"]
    assert make(project, "cluster-stop")[1] == ["python -m pipeline.cluster stop"]


def test_lint_format_and_audit_run_the_documented_commands(project):
    assert make(project, "lint")[1] == ["ruff check .", "ruff format --check ."]
    assert make(project, "format")[1] == ["ruff check --fix .", "ruff format ."]
    (audit,) = make(project, "audit")[1]
    assert audit.startswith("pip-audit --strict") and audit.endswith("-r requirements.lock")
    assert "--require-hashes" in audit
    planned = subprocess.run(
        [MAKE, "-n", "lock"], cwd=project, capture_output=True, text=True, check=True
    ).stdout
    assert "pip-compile" in planned and "--generate-hashes" in planned
    assert "-o requirements.lock pyproject.toml" in planned


def test_make_clean_removes_the_outputs_but_never_data_kaggle(project):
    made = [
        ".venv/bin/python",
        "data/raw/mnist_train.csv",
        "data/prepared/train_x.npy",
        "models/model.npz",
        "dvc_plots/index.html",
        "outputs/original/report.md",
        "multirun/2026-01-01/00-00-00/0/model.npz",
    ]
    for name in [*made, "data/kaggle/train.csv"]:
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).touch()
    make(project, "clean")
    assert not [name for name in made if (project / name).exists()]
    assert not (project / ".venv").exists()
    assert (project / "data" / "kaggle" / "train.csv").is_file()
