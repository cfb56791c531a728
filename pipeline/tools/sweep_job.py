"""One job of a sweep: prepare (only if its data settings differ from the shared prepared
data), train and evaluate into the job's own folder, as one MLflow run (a child of the sweep's
parent run). ``pipeline.tools.sweep`` is the Hydra entry point that calls ``job``; a joblib
worker imports this module ahead of its first job (``joblib_workers``).
"""

import dataclasses
import json
import os
import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from threadpoolctl import threadpool_limits

import scratchnn as sn
from pipeline.config import PROJECT_ROOT, Config, prepare_settings, validate
from pipeline.network.factory import check_model
from pipeline.stages.evaluate import evaluate
from pipeline.stages.prepare import prepare
from pipeline.stages.train import train_tracked
from pipeline.tools import launchers, slurm_jobs
from pipeline.tracking import mlflow_runs
from pipeline.tracking.evaluation_log import log_evaluation

PARENT_RUN_FILE = "mlflow_parent_run.json"  # in the sweep's folder: the parent run's id and tags


def run_name(job_overrides: list[str], swept: list[str], job_number: int) -> str:
    """``optimizer.lr=0.01`` for a job of a sweep over optimizer.lr (all overrides otherwise)."""
    chosen = [o for o in job_overrides if o.split("=", 1)[0].lstrip("+~") in swept]
    return ",".join(chosen or job_overrides) or f"job {job_number}"


def shared_prepared_matches(cfg: Config, prepared: Path) -> bool:
    info = prepared / "info.json"
    if not info.is_file():
        return False
    recorded = json.loads(info.read_text())
    return recorded.get("data") == prepare_settings(cfg.data) and (
        recorded.get("dtype") == cfg.dtype.value
    )


def job_config(cfg: Config, job_dir: Path) -> tuple[Config, bool]:
    """Point model and reports at the job's folder; reuse the project's prepared data when it
    was prepared with this job's data settings. Returns the config and whether to prepare."""
    shared = PROJECT_ROOT / cfg.paths.prepared
    reuse = shared_prepared_matches(cfg, shared)
    paths = dataclasses.replace(
        cfg.paths,
        prepared=str(shared if reuse else job_dir / "prepared"),
        model=str(job_dir / "model.npz"),
        reports=str(job_dir / "reports"),
    )
    return dataclasses.replace(cfg, paths=paths), not reuse


def blas_threads(launcher: DictConfig) -> int | None:
    """One share of the cores per parallel job, so jobs don't fight over them."""
    cores = os.cpu_count() or 1
    if launchers.is_joblib(launcher):
        n_jobs = int(launcher.get("n_jobs") or -1)
        return max(1, cores // (cores if n_jobs < 1 else n_jobs))
    if launchers.is_submitit(launcher):
        return int(launcher.get("cpus_per_task") or 1)
    return None  # the basic launcher runs one job at a time: use every core


def parent_run(sweep_dir: Path) -> dict:
    path = sweep_dir / PARENT_RUN_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def run_job(cfg: Config, name: str, job_dir: Path, sweep_dir: Path | None) -> float:
    """Prepare if needed, train, evaluate; returns the final validation accuracy (NaN if the
    training diverged: the run is FAILED and the sweep goes on)."""
    parent = parent_run(sweep_dir) if sweep_dir else {}
    tags = {key: parent[key] for key in ("sweep", "sweep.dir", "sweep.params") if key in parent}
    cfg, needs_prepare = job_config(cfg, job_dir)
    if needs_prepare:
        prepare(cfg)
    tags |= mlflow_runs.data_tags(cfg) | slurm_jobs.job_tags()
    run = (
        mlflow_runs.start_run(cfg, name, tags, parent.get("run_id"))
        if cfg.tracking.enabled
        else None
    )
    try:
        with mlflow_runs.run_status(run):
            history = train_tracked(cfg, run)
            metrics, _ = evaluate(cfg)
            if run is not None:
                run.attempt(
                    lambda: log_evaluation(run, metrics, cfg.paths.reports, cfg.train.epochs),
                    "logging the evaluation",
                )
    except sn.TrainingDiverged as error:
        print(f"job {name!r}: {error}", file=sys.stderr)
        return float("nan")
    accuracy = history[-1].val_accuracy
    return float("nan") if accuracy is None else accuracy


def job(raw: DictConfig) -> float:
    hydra_cfg = HydraConfig.get()
    cfg = validate(raw)
    check_model(cfg, source="")
    multirun = hydra_cfg.mode is not None and hydra_cfg.mode.name == "MULTIRUN"
    sweep_dir = Path(hydra_cfg.sweep.dir) if multirun else None
    swept = parent_run(sweep_dir).get("sweep.params", "").split(",") if sweep_dir else []
    name = run_name(list(hydra_cfg.overrides.task), swept, hydra_cfg.job.num)
    with threadpool_limits(limits=blas_threads(hydra_cfg.launcher)):
        return run_job(cfg, name, Path(hydra_cfg.runtime.output_dir), sweep_dir)
