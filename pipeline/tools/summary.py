"""The few lines `make run` and `make baseline` end with: the accuracy, where the reports are,
what to try next, and what the files git now shows as changed are.

python -m pipeline.tools.summary
"""

import argparse
import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from pipeline.cli import run_stage
from pipeline.config import PARAMS_FILE, PROJECT_ROOT, load_params
from pipeline.errors import PipelineError

NEXT_STEPS = (
    "next: dvc exp run -S optimizer.lr=0.005, then `make exps` compares, `make baseline` goes back"
)
EXPERIMENT = (
    "note: params.yaml differs from the last commit: these are an experiment's results;\n"
    "      `make baseline` brings back the committed configuration and its results"
)
MACHINE_BITS = (
    "note: dvc.lock and reports/ differ from the last commit: this machine's results (another CPU\n"
    "      rounds the last bits differently); commit them only with a change to the code\n"
    "      (docs/newcomer.md)"
)

RUN_ID_ONLY = (
    "note: the model and the reports are the committed ones, bit for bit; only reports/run.json\n"
    "      (this training's MLflow run, a new ID each time) and its hash in dvc.lock differ:\n"
    "      nothing to commit (docs/newcomer.md)"
)


def changed_since_commit(path: str, root: Path) -> bool | None:
    """Whether ``path`` differs from the last commit; None outside a git work tree."""
    result = subprocess.run(
        ["git", "diff", "--quiet", "HEAD", "--", path], cwd=root, capture_output=True, check=False
    )
    return None if result.returncode > 1 else result.returncode == 1


def committed_text(path: str, root: Path) -> str | None:
    """``path`` as the last commit has it; None if it has none."""
    result = subprocess.run(
        ["git", "show", f"HEAD:{path}"], cwd=root, capture_output=True, text=True, check=False
    )
    return result.stdout if result.returncode == 0 else None


def without_path(lock: Any, path: str) -> Any:
    """A parsed dvc.lock with every dependency or output entry of ``path`` left out."""
    if isinstance(lock, dict):
        return {key: without_path(value, path) for key, value in lock.items()}
    if isinstance(lock, list):
        return [
            without_path(entry, path)
            for entry in lock
            if not (isinstance(entry, dict) and entry.get("path") == path)
        ]
    return lock


def only_the_run_id_differs(root: Path, reports: Path) -> bool:
    """Whether the results are the committed ones and only ``run.json`` (the MLflow run's ID)
    and its hashes in dvc.lock differ: what a fresh clone's ``make run`` on this machine gives."""
    run_file = f"{reports}/run.json"
    changed = subprocess.run(
        ["git", "diff", "--name-only", "HEAD", "--", str(reports)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    if any(name != run_file for name in changed):
        return False
    committed = committed_text("dvc.lock", root)
    if committed is None:
        return False
    try:
        now = yaml.safe_load((root / "dvc.lock").read_text())
        before = yaml.safe_load(committed)
    except (OSError, yaml.YAMLError):
        return False
    return without_path(now, run_file) == without_path(before, run_file)


def percent(fraction: float) -> str:
    return f"{100 * fraction:.2f} %"


def summary_lines(root: Path = PROJECT_ROOT) -> list[str]:
    """The summary of the results in ``root``'s reports folder (params.yaml's paths.reports)."""
    reports = Path(load_params(root / PARAMS_FILE).paths.reports)
    metrics_file = root / reports / "metrics.json"
    if not metrics_file.is_file():
        raise PipelineError(f"{metrics_file}: no such file; the evaluate stage writes it")
    metrics = json.loads(metrics_file.read_text())
    split = metrics["evaluated_on"]
    scores = metrics[split]
    correct = round(scores["accuracy"] * scores["n"])
    headline = (
        f"{split} accuracy {percent(scores['accuracy'])} ({correct:,} of {scores['n']:,} images)"
    )
    if split != "val":
        headline += f", validation {percent(metrics['val']['accuracy'])}"
    lines = [
        "",
        f"done: {headline}",
        f"reports: {reports}/report.md and {reports}/*.png; `dvc plots show` draws the curves, "
        "`make ui` opens MLflow",
        NEXT_STEPS,
    ]
    if changed_since_commit(PARAMS_FILE, root):
        lines.append(EXPERIMENT)
    elif changed_since_commit("dvc.lock", root):
        lines.append(RUN_ID_ONLY if only_the_run_id_differs(root, reports) else MACHINE_BITS)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.tools.summary",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args()
    print("\n".join(summary_lines()))


def run() -> None:
    run_stage(main)


if __name__ == "__main__":
    run()
