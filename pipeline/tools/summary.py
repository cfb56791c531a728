"""The few lines `make run` and `make baseline` end with: the accuracy, where the reports are,
what to try next, and what the files git now shows as changed are.

python -m pipeline.tools.summary
"""

import argparse
import json
import subprocess
from pathlib import Path

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


def changed_since_commit(path: str, root: Path) -> bool | None:
    """Whether ``path`` differs from the last commit; None outside a git work tree."""
    result = subprocess.run(
        ["git", "diff", "--quiet", "HEAD", "--", path], cwd=root, capture_output=True, check=False
    )
    return None if result.returncode > 1 else result.returncode == 1


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
        lines.append(MACHINE_BITS)
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
