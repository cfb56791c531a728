"""`make baseline` and `make exps` with the real `make` and `dvc` on a temp copy of the repository
(tests/test_dvc_pipeline.py's), on small generated CSVs: the way back after a successful and
after a refused experiment, and on a machine whose cache never held the committed model."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from pipeline.config import PROJECT_ROOT
from tests.conftest import write_digits_csv
from tests.test_dvc_pipeline import (
    ENV,
    TINY_EXPERIMENT,
    commit,
    project,  # noqa: F401  (the fixture: a fresh git copy)
    run,
    stages_run,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed"),
]
DOWNLOADS = ("fetch", "plots_template")  # stages that download (npm, the MNIST wheel): left out


def with_environment(root: Path) -> None:
    """The copy's .venv: `python` and `dvc` of the environment running the tests, built (its
    stamp newer than the lock), so the Makefile's targets start at once."""
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, target in (("python", sys.executable), ("dvc", Path(sys.executable).parent / "dvc")):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec "{target}" "$@"\n')
        (bin_dir / name).chmod(0o755)
    later = time.time() + 60
    for stamp in (".installed", ".notebook"):
        (root / ".venv" / stamp).touch()
        os.utime(root / ".venv" / stamp, (later, later))


def attempt(root: Path, *command: str) -> subprocess.CompletedProcess:
    """Run ``command`` in ``root`` as a user's terminal of 120 columns would; may fail."""
    env = {**ENV, "COLUMNS": "120"}
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)


def make(root: Path, target: str) -> str:
    result = attempt(root, "make", "--no-print-directory", target)
    assert result.returncode == 0, f"make {target}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def reran(output: str) -> list[str]:
    """The stages that reran, but check_params: it checks params.yaml for unknown keys
    whenever that file changed, and has nothing to do with the way back."""
    return [stage for stage in stages_run(output) if stage != "check_params"]


def committed_baseline(root: Path) -> None:
    """The repository as a clone holds it: the tiny recipe run once, params.yaml, dvc.lock and
    reports/ committed."""
    write_digits_csv(root / "small" / "train.csv", 300, seed=1)
    write_digits_csv(root / "small" / "test.csv", 100, seed=2)
    recipe = TINY_EXPERIMENT + "tracking:\n  enabled: false\n"  # MLflow's start-up: seconds each
    (root / "conf" / "experiment" / "tiny.yaml").write_text(recipe)
    pipeline = yaml.safe_load((root / "dvc.yaml").read_text())
    for stage in DOWNLOADS:
        del pipeline["stages"][stage]
    (root / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    run(root, "python", "-m", "pipeline.tools.params", "experiment=tiny")
    assert reran(run(root, "dvc", "repro")) == ["prepare", "train", "evaluate", "predict"]
    commit(root)
    with_environment(root)


def assert_at_the_baseline(root: Path, model: bytes) -> None:
    status = run(root, "git", "status", "--porcelain")
    assert status == "", status  # params.yaml, dvc.lock and reports/ as committed
    assert (root / "models" / "model.npz").read_bytes() == model
    assert (root / "reports" / "report.md").is_file()
    assert json.loads(run(root, "dvc", "status", "--json").splitlines()[-1]) == {}


def test_make_baseline_after_a_successful_and_a_refused_experiment(project):  # noqa: F811
    committed_baseline(project)
    model = (project / "models" / "model.npz").read_bytes()

    # a learning rate changes the model, so predict reruns too (README: the pipeline)
    tried = run(project, "dvc", "exp", "run", "-S", "experiment=tiny", "-S", "optimizer.lr=0.005")
    assert reran(tried) == ["train", "evaluate", "predict"]
    shown = make(project, "exps")
    assert max(len(line.rstrip()) for line in shown.splitlines()) <= 120  # COLUMNS=120
    header = next(line for line in shown.splitlines() if "Experiment" in line).split()
    assert header == [
        "Experiment",
        "val.accuracy",
        "test.accuracy",
        "model.hidden_sizes",
        "optimizer.lr",
        "train.batch_size",
    ]
    assert "0.005" in shown and "0.002" in shown
    guide = (PROJECT_ROOT / "docs" / "newcomer.md").read_text()
    assert f"\n  {'   '.join(header[:1])}" in guide and "   ".join(header[1:]) in guide

    back = make(project, "baseline")  # everything is in this machine's cache: nothing reruns
    assert reran(back) == [] and "done: test accuracy" in back
    assert_at_the_baseline(project, model)

    refused = attempt(project, "dvc", "exp", "run", "-S", "experiment=tiny", "-S", "optimizer.lr=0")
    assert refused.returncode != 0
    error = next(line for line in refused.stderr.splitlines() if line.startswith("error:"))
    assert error.endswith("`make baseline` brings back the committed one and its results")
    assert reran(make(project, "baseline")) == []
    assert_at_the_baseline(project, model)

    # another machine: the committed model was never in its DVC cache (`git checkout` and
    # `dvc checkout` alone left models/ empty there); `make baseline` trains what is missing
    shutil.rmtree(project / ".dvc" / "cache")  # objects and run cache alike
    again = make(project, "baseline")  # the prepared data, not in the cache either, is remade
    assert reran(again) == ["prepare", "train", "evaluate", "predict"]
    assert_at_the_baseline(project, model)  # the same machine: the same bits
