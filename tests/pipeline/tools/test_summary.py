"""The lines `make run` and `make baseline` end with (pipeline/tools/summary.py), on a copy of
params.yaml and reports/ in a fresh git repository."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.config import PROJECT_ROOT, PipelineError
from pipeline.tools.summary import EXPERIMENT, MACHINE_BITS, NEXT_STEPS, summary_lines


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def committed(tmp_path: Path) -> Path:
    """params.yaml, dvc.lock and reports/metrics.json as committed, in a git repository."""
    for name in ("params.yaml", "dvc.lock", "reports/metrics.json"):
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
