"""The lines `make run` and `make baseline` end with (pipeline/tools/summary.py), on a copy of
params.yaml and reports/ in a fresh git repository."""

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.config import PROJECT_ROOT, PipelineError
from pipeline.tools.summary import (
    EXPERIMENT,
    MACHINE_BITS,
    NEXT_STEPS,
    RUN_ID_ONLY,
    summary_lines,
)


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def committed(tmp_path: Path) -> Path:
    """params.yaml, dvc.lock and reports/metrics.json as committed, in a git repository."""
    for name in ("params.yaml", "dvc.lock", "reports/metrics.json", "reports/run.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_ROOT / name, tmp_path / name)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "c")
    return tmp_path


def test_the_summary_gives_the_accuracy_the_reports_and_what_next(committed):
    metrics = json.loads((committed / "reports" / "metrics.json").read_text())
    test, val = metrics["test"], metrics["val"]
    lines = summary_lines(committed)
    correct = round(test["accuracy"] * test["n"])
    assert lines[1] == (
        f"done: test accuracy {100 * test['accuracy']:.2f} % ({correct:,} of {test['n']:,} "
        f"images), validation {100 * val['accuracy']:.2f} %"
    )
    assert lines[2].startswith("reports: reports/report.md and reports/*.png")
    assert lines[3] == NEXT_STEPS and len(lines) == 4  # as committed: no note


def test_the_summary_says_what_the_changed_files_are(committed):
    (committed / "dvc.lock").write_text("another machine's checksums\n")
    assert summary_lines(committed)[-1] == MACHINE_BITS
    params = committed / "params.yaml"
    params.write_text(params.read_text().replace("lr: 0.002", "lr: 0.005"))
    assert summary_lines(committed)[-1] == EXPERIMENT  # an experiment's, whatever the lock
    assert "make baseline" in EXPERIMENT and "docs/newcomer.md" in MACHINE_BITS


def test_a_fresh_clones_run_here_differs_only_in_its_mlflow_run_id(committed):
    """Trained afresh on this machine: the same bits, but a new MLflow run, whose ID is in
    reports/run.json and whose hash dvc.lock records (twice: train's output, evaluate's input)."""
    run_file = committed / "reports" / "run.json"
    lock = committed / "dvc.lock"
    before = hashlib.md5(run_file.read_bytes()).hexdigest()
    run = json.loads(run_file.read_text())
    run_file.write_text(json.dumps({**run, "run_id": "0" * 32}, indent=2) + "\n")
    after = hashlib.md5(run_file.read_bytes()).hexdigest()
    assert lock.read_text().count(before) == 2
    lock.write_text(lock.read_text().replace(before, after))
    assert summary_lines(committed)[-1] == RUN_ID_ONLY
    trained = lock.read_text()
    lock.write_text(trained.replace("seed: 0", "seed: 1", 1))  # any other change
    assert summary_lines(committed)[-1] == MACHINE_BITS
    lock.write_text(trained)
    metrics = committed / "reports" / "metrics.json"
    metrics.write_text(json.dumps(json.loads(metrics.read_text())))  # a report changed too
    assert summary_lines(committed)[-1] == MACHINE_BITS
    assert "docs/newcomer.md" in RUN_ID_ONLY
    assert RUN_ID_ONLY in (PROJECT_ROOT / "docs" / "newcomer.md").read_text()


def test_the_summary_reports_the_split_evaluate_used_and_needs_its_metrics(committed):
    """A test CSV without labels (Kaggle's): evaluate reports on the validation split."""
    metrics_file = committed / "reports" / "metrics.json"
    metrics = json.loads(metrics_file.read_text())
    metrics_file.write_text(json.dumps({"val": metrics["val"], "evaluated_on": "val"}))
    assert summary_lines(committed)[1].startswith("done: val accuracy ")
    assert "validation" not in summary_lines(committed)[1]
    metrics_file.unlink()
    with pytest.raises(PipelineError, match=r"metrics\.json: no such file; the evaluate stage"):
        summary_lines(committed)


def test_the_pages_quote_the_summary_of_the_committed_results():
    """README's quick start and docs/newcomer.md show what `make run` ends with here."""
    shown = "\n".join(summary_lines(PROJECT_ROOT)[1:4])  # without a note on local changes
    for page in (PROJECT_ROOT / "README.md", PROJECT_ROOT / "docs" / "newcomer.md"):
        assert shown in page.read_text(), page
