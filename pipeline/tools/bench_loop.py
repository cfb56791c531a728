"""``make bench-loop``: what one experiment costs beyond its epochs, and a sweep on both cores.

python -m pipeline.tools.bench_loop                       # 3 experiments, then the 4-job sweeps
python -m pipeline.tools.bench_loop --repeats 5 --no-sweep
python -m pipeline.tools.bench_loop --output other.json

An experiment is what a user types after changing a learning rate: ``dvc exp run -S
optimizer.lr=<new value>`` (train, then evaluate). It runs in a scratch copy of the project (the
working tree's files, with the prepared data and DVC's cache hard-linked), so the project's
workspace, experiments and MLflow store are untouched; a first experiment, not counted, fills the
copy's store (the "warm store" of the target) and DVC's hashes. Every stage process records its
phases (``pipeline/phases.py``). The breakdown: the epochs' own seconds (from the progress
lines), process start and imports, tracking, data loading, figures, writing outputs,
checkpoints, the rest of each stage, and DVC (the wall time outside the stage processes); the
overhead is the wall time less the epochs. Of ``--repeats`` experiments, the one with the
median overhead is reported. Then DVC alone, in the same copy: ``dvc repro`` with nothing to do
(5 times) and ``dvc exp run`` of the warm-up's learning rate, which DVC's run cache restores
without running any stage (3 times).

The sweep: ``make bench-sweep``'s 4 learning rates, sequential and with ``hydra/launcher=joblib
hydra.launcher.n_jobs=2``, on the project's prepared data, into temporary folders.

This machine is noisy: compare figures within one run. Writes ``reports/bench_loop.json``.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline import phases
from pipeline.cli import run_stage
from pipeline.config import PROJECT_ROOT
from pipeline.errors import PipelineError
from pipeline.io import write_json
from pipeline.tools import bench_sweep

DEFAULT_OUTPUT = "reports/bench_loop.json"
LINKED = ("data", "models", ".dvc/cache")  # hard-linked into the copy, never written there
FIRST_LR = 0.0021  # then 0.0022, 0.0023, ...: every experiment new to DVC's run cache
HELPER = "(logging process)"  # phases of a process that runs beside a stage, not in its way
CATEGORIES = (
    "start and imports",
    "tracking",
    "data loading",
    "figures",
    "writing outputs",
    "checkpoints",
)


def project_files(root: Path) -> list[str]:
    """Tracked and untracked (not ignored) files: the working tree as a commit would hold it."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [name for name in listing.split("\0") if name and (root / name).is_file()]


def scratch_copy(root: Path, target: Path) -> None:
    """The project's working tree as a fresh git repository at ``target``."""
    for name in project_files(root):
        if name.startswith(tuple(f"{folder}/" for folder in LINKED)):
            continue  # linked with the rest of its folder below
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target / name)
    for folder in LINKED:
        if (root / folder).is_dir():
            shutil.copytree(
                root / folder, target / folder, copy_function=os.link, dirs_exist_ok=True
            )
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "bench-loop copy"]):
        subprocess.run([*git, *command], cwd=target, check=True, capture_output=True)


def read_phases(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


NESTED = ("tracking: logging epochs", "checkpoints")  # timed inside the "epochs" phase


def category(phase: str) -> str:
    return "tracking" if phase.startswith("tracking") else phase


def breakdown(records: list[dict[str, Any]], wall: float, epochs: float) -> dict[str, float]:
    """Seconds by category for one experiment whose epochs took ``epochs`` by their own clocks:
    ``other, in the stages`` is what no phase covers in the stage processes' lives, ``dvc`` the
    wall time outside them (DVC's own work, and each process's exit)."""
    by_pid: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_pid[record["pid"]].append(record)
    totals = dict.fromkeys(CATEGORIES, 0.0)
    loop = nested = in_stages = other = 0.0
    for pid_records in by_pid.values():
        if any(HELPER in r["phase"] for r in pid_records):
            continue  # it runs beside the stage; the stage's wait for it is counted
        start = min(r["start"] for r in pid_records)
        life = max(r["start"] + r["seconds"] for r in pid_records) - start
        in_stages += life
        covered = 0.0
        for r in pid_records:
            name = category(r["phase"])
            if name in totals:
                totals[name] += r["seconds"]
            if r["phase"] == "epochs":
                loop += r["seconds"]
            if r["phase"] in NESTED:
                nested += r["seconds"]
            elif name in totals or r["phase"] == "epochs":
                covered += r["seconds"]
        other += life - covered
    totals["epochs loop, besides the epochs"] = max(0.0, loop - nested - epochs)
    totals["other, in the stages"] = other
    totals["dvc"] = wall - in_stages
    return {"wall": wall, "epochs": epochs, "overhead": wall - epochs, **totals}


def venv_env() -> dict[str, str]:
    """This environment, with this interpreter's folder first on PATH (the stages' ``python``)."""
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def experiment(copy: Path, lr: float, phases_file: Path) -> dict[str, float]:
    """One timed ``dvc exp run -S optimizer.lr=<lr>`` in the copy."""
    phases_file.unlink(missing_ok=True)
    env = {**venv_env(), phases.ENV: str(phases_file)}
    env.pop("MLFLOW_TRACKING_URI", None)  # the copy's own store
    command = ["dvc", "exp", "run", "-S", f"optimizer.lr={lr:g}"]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise PipelineError(f"{' '.join(command)} failed:\n{result.stderr.strip()[-3000:]}")
    epochs = sum(bench_sweep.epoch_seconds(result.stdout))
    return breakdown(read_phases(phases_file), wall, epochs)


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """The experiment with the median overhead (its breakdown adds up, as medians taken key by
    key would not)."""
    ranked = sorted(runs, key=lambda run: run["overhead"])
    return ranked[(len(ranked) - 1) // 2]


def dvc_seconds(copy: Path, command: list[str], repeats: int) -> dict[str, Any]:
    """DVC alone: ``command`` timed ``repeats`` times in the copy, where no stage has to run;
    each run's seconds and their median."""
    env = venv_env()
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True)
        runs.append(time.perf_counter() - started)
        if result.returncode != 0 or "Running stage" in result.stdout:
            raise PipelineError(f"{' '.join(command)} ran a stage or failed:\n{result.stdout}")
    return {"command": " ".join(command), "runs": runs, "median": sorted(runs)[len(runs) // 2]}


def experiments(repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-loop-") as tmp:
        copy = Path(tmp) / "project"
        copy.mkdir()
        scratch_copy(PROJECT_ROOT, copy)
        print("warm-up experiment (not counted) ...", flush=True)
        experiment(copy, FIRST_LR, Path(tmp) / "phases.jsonl")
        runs = []
        for n in range(1, repeats + 1):
            lr = FIRST_LR + n * 1e-4
            runs.append(experiment(copy, lr, Path(tmp) / "phases.jsonl"))
            print(
                f"experiment {n}/{repeats}: {runs[-1]['wall']:.1f} s, of which "
                f"{runs[-1]['overhead']:.1f} s beyond the epochs",
                flush=True,
            )
        print(
            "DVC alone: dvc repro with nothing to do, an experiment from the run cache", flush=True
        )
        dvc_alone = {
            "repro_nothing_to_do": dvc_seconds(copy, ["dvc", "repro"], 5),
            # the warm-up's learning rate again: every stage comes back from DVC's run cache
            "exp_run_from_run_cache": dvc_seconds(
                copy, ["dvc", "exp", "run", "-S", f"optimizer.lr={FIRST_LR:g}"], 3
            ),
        }
    return {"runs": runs, "median": median_run(runs), "dvc_alone": dvc_alone}


def sweeps(values: str) -> dict[str, Any]:
    """``make bench-sweep``'s comparison, with the phases of every job."""
    with tempfile.TemporaryDirectory(prefix="bench-loop-sweep-") as tmp:
        folder = Path(tmp)
        runs = {}
        for mode, n_jobs in (("sequential", 1), ("parallel", 2)):
            command = bench_sweep.sweep_command(values, n_jobs, [], folder / mode)
            print(f"sweep, {mode}: {' '.join(command[1:])}", flush=True)
            before = os.environ.get(phases.ENV)
            os.environ[phases.ENV] = str(folder / f"{mode}.jsonl")
            try:
                runs[mode] = bench_sweep.timed_sweep(command, folder / "mlflow.db", folder / mode)
            finally:
                if before is None:
                    del os.environ[phases.ENV]
                else:
                    os.environ[phases.ENV] = before
            totals: dict[str, float] = defaultdict(float)
            for record in read_phases(folder / f"{mode}.jsonl"):
                name = "tracking" if record["phase"].startswith("tracking") else record["phase"]
                totals[name] += record["seconds"]
            runs[mode]["phases"] = dict(totals)
    return bench_sweep.summary(runs["sequential"], runs["parallel"])


def report(results: dict[str, Any]) -> str:
    lines = []
    if "experiment" in results:
        median = results["experiment"]["median"]
        lines.append(
            f"one experiment (dvc exp run -S optimizer.lr=..., median of "
            f"{len(results['experiment']['runs'])}): {median['wall']:.1f} s, the epochs "
            f"{median['epochs']:.1f} s, everything else {median['overhead']:.1f} s:"
        )
        for key, seconds in median.items():
            if key not in ("wall", "epochs", "overhead"):
                lines.append(f"  {key:<34} {seconds:6.2f} s")
        for timed in results["experiment"].get("dvc_alone", {}).values():
            runs = ", ".join(f"{seconds:.2f}" for seconds in timed["runs"])
            lines.append(f"DVC alone, {timed['command']}: median {timed['median']:.2f} s ({runs})")
    if "sweep" in results:
        lines.append(bench_sweep.report(results["sweep"]))
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.tools.bench_loop",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--repeats", type=int, default=3, help="experiments timed")
    parser.add_argument("--no-sweep", action="store_true", help="leave out the sweeps")
    parser.add_argument("--values", default=bench_sweep.DEFAULT_VALUES, help="swept rates")
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / DEFAULT_OUTPUT)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if not (PROJECT_ROOT / "data" / "prepared" / "train_x.npy").is_file():
        raise PipelineError("no prepared data: run `make run` first")
    results: dict[str, Any] = {"load_average_before": os.getloadavg()[0]}
    results["experiment"] = experiments(args.repeats)
    if not args.no_sweep:
        results["sweep"] = sweeps(args.values)
    results["load_average_after"] = os.getloadavg()[0]
    print(report(results))
    write_json(args.output, results)
    print(f"bench_loop: results -> {args.output}")


if __name__ == "__main__":
    run_stage(main)
