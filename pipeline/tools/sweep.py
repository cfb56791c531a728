"""Hydra entry point for sweeps: each job (``sweep_job``) prepares (only if its data settings
differ from the shared prepared data), trains and evaluates into its own folder, as one MLflow run.

    python -m pipeline.tools.sweep -m optimizer.lr=0.001,0.01,0.1,0.5
    python -m pipeline.tools.sweep -m optimizer.lr=0.001,0.01,0.1,0.5 hydra/launcher=joblib
    python -m pipeline.tools.sweep -m optimizer.lr=0.001,0.01 hydra/launcher=submitit_local
    python -m pipeline.tools.sweep -m hparams_search=optuna

Run it from the project root after `make run` (or `dvc repro prepare`). Jobs write under
``multirun/<date>/<time>/<job>/``, never over DVC's outputs. The runs of one sweep share the tag
``sweep`` and a parent run. A job returns its final validation accuracy (what Optuna maximises);
a job that diverges ends FAILED in MLflow and returns NaN while the others carry on.
"""

import atexit
import signal
import sys
from pathlib import Path

import hydra
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from pipeline.cli import INTERRUPTED, user_errors_exit
from pipeline.config import Config, validate
from pipeline.errors import PipelineError
from pipeline.io import write_json
from pipeline.tools import joblib_workers, optuna_storage, slurm_jobs
from pipeline.tools.hydra_records import redact_job_records
from pipeline.tools.sweep_job import PARENT_RUN_FILE, job
from pipeline.tools.sweep_parent import end_parent
from pipeline.tracking import mlflow_runs


def sweep_id(sweep_dir: Path) -> str:
    """``multirun/2026-11-25/15-50-01`` -> ``2026-11-25/15-50-01``."""
    return f"{sweep_dir.parent.name}/{sweep_dir.name}"


class MlflowSweepCallback(Callback):
    """Creates the store, the experiment and a parent run once, before any job starts (jobs
    running in parallel must not race to create them), and ends the parent run as its jobs
    ended (``sweep_parent``): after the last job, or when the sweep process exits early (an
    error, Ctrl-C, SIGTERM; not SIGKILL, which nothing survives)."""

    def __init__(self) -> None:
        self.run: mlflow_runs.Run | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: object) -> None:
        # Hydra turns a callback's exception into a warning and launches the jobs anyway: a
        # configuration or tracking error stops the sweep here, as one line, before any job
        # before the Optuna sweeper opens a shared storage
        optuna_storage.install_for(config.hydra.sweeper)
        slurm_jobs.poll_sacct_often(config.hydra.launcher)
        with user_errors_exit():  # which also makes SIGTERM an interrupt in this process
            check_signal_delay(config.hydra.launcher)
            cfg = validate({k: v for k, v in config.items() if k != "hydra"})
            with joblib_workers.warming(config.hydra, cfg.tracking.enabled):
                self._start_parent_run(config, cfg)

    def _start_parent_run(self, config: DictConfig, cfg: Config) -> None:
        if not cfg.tracking.enabled:
            return
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        tags = {
            "sweep": sweep_id(sweep_dir),
            "sweep.dir": str(sweep_dir.resolve()),
            "sweep.params": ",".join(swept_keys(config)),
        }
        parent_tags = {**tags, "sweep.parent": "true"}
        self.run = mlflow_runs.start_run(cfg, f"sweep {sweep_id(sweep_dir)}", parent_tags)
        write_json(sweep_dir / PARENT_RUN_FILE, {"run_id": self.run.run_id, **tags})
        atexit.register(self._end_parent_run, completed=False)

    def on_job_start(self, config: DictConfig, **kwargs: object) -> None:
        redact_job_records(config)  # Hydra's .hydra/*.yaml hold the overrides as given

    def on_multirun_end(self, config: DictConfig, **kwargs: object) -> None:
        self._end_parent_run(completed=True)

    def _end_parent_run(self, completed: bool) -> None:
        run, self.run = self.run, None
        if run is not None:
            interrupted = INTERRUPTED.is_set()
            run.attempt(
                lambda: end_parent(run, completed, interrupted), "ending the sweep's parent run"
            )


NO_TIME_LIMIT = 0  # sbatch's --time=0 (and -1): no time limit, so no signal ahead of it


def check_signal_delay(launcher: DictConfig) -> None:
    """Refuse a SLURM time limit that is not above ``signal_delay_s``: submitit asks sbatch for
    ``--time=<timeout_min> --signal=USR2@<signal_delay_s>``, so SLURM would signal each job as
    it starts, before the job's own SIGUSR2 handler is in place (``main``). Only launchers with
    both keys: SLURM's (submitit's local launcher has no signal_delay_s)."""
    if "timeout_min" not in launcher or "signal_delay_s" not in launcher:
        return
    timeout_min, signal_delay_s = int(launcher.timeout_min), int(launcher.signal_delay_s)
    if timeout_min > NO_TIME_LIMIT and timeout_min * 60 <= signal_delay_s:
        raise PipelineError(
            f"hydra.launcher.timeout_min={timeout_min} ({timeout_min * 60} s) is not above "
            f"hydra.launcher.signal_delay_s={signal_delay_s}: SLURM would signal each job "
            "(SIGUSR2) as it starts, before it trains; raise timeout_min to "
            f"{signal_delay_s // 60 + 1} or more, or lower signal_delay_s below {timeout_min * 60}"
        )


def swept_keys(config: DictConfig) -> list[str]:
    """The keys a multirun varies: command-line sweeps (``a=1,2``, ``range()``...) and the
    search space of a sweeper such as Optuna (``hydra.sweeper.params``)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    overrides = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
    keys = [o.key_or_group for o in overrides if o.is_sweep_override()]
    keys += list(config.hydra.sweeper.get("params") or {})
    return sorted(set(keys))


@hydra.main(version_base="1.3", config_path="../../conf", config_name="config")
def main(raw: DictConfig) -> float:
    with user_errors_exit():
        # SLURM's warning before a job's time limit (submitit asks for SIGUSR2): noted, and the
        # training goes on (submitit's own handler would requeue the job). At the limit SLURM
        # sends SIGTERM, which ends the run KILLED, and the job is TIMEOUT in sacct
        signal.signal(signal.SIGUSR2, time_limit_near)
        return job(raw)


def time_limit_near(signum: int, frame: object) -> None:
    print(f"job: {signal.Signals(signum).name}: the time limit is near", file=sys.stderr)


if __name__ == "__main__":
    main()
