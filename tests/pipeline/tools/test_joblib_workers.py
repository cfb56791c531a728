"""A joblib sweep's workers start while the sweep creates its parent run, run every job, and
are gone once the sweep has ended (``pipeline/tools/joblib_workers.py``)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mlflow import MlflowClient
from omegaconf import OmegaConf

from pipeline import phases
from pipeline.config import PROJECT_ROOT
from pipeline.tools import joblib_workers, launchers
from tests.conftest import hydra_config, tiny_overrides

LRS = ("0.01", "0.02", "0.03")


def joblib_sweep(folder: Path, csvs, lrs: tuple[str, ...], experiment: str | None = None):
    """A sweep of one-epoch jobs over ``lrs`` on two joblib workers, into ``folder``."""
    return [
        sys.executable, "-m", "pipeline.tools.sweep", "-m", f"optimizer.lr={','.join(lrs)}",
        *tiny_overrides(folder, csvs, epochs=1, experiment=experiment),
        "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={folder / 'sweep'}",
    ]  # fmt: skip


def test_jobs_run_in_the_workers_prepared_while_the_parent_run_started(tmp_path, small_csvs):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # fresh: the workers open it as it is created
    record = tmp_path / "phases.jsonl"
    command = joblib_sweep(tmp_path, small_csvs, LRS, experiment="warm")
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, phases.ENV: str(record)}
    result = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr, result.stderr
    assert result.stdout.count("epoch 1/1") == len(LRS)  # every job's output reached the pipe

    lines = [json.loads(line) for line in record.read_text().splitlines()]
    prepared = {line["pid"] for line in lines if line["phase"] == joblib_workers.PREPARING}
    trained = {line["pid"] for line in lines if line["phase"] == "epochs"}
    assert len(prepared) == 2  # one per worker, both before the first job
    assert trained == prepared  # joblib reused them: no worker was started after the parent
    assert all(not Path(f"/proc/{pid}").exists() for pid in prepared)  # and none is left over

    runs = MlflowClient(uri).search_runs(
        [MlflowClient(uri).get_experiment_by_name("warm").experiment_id]
    )
    assert sorted(r.info.status for r in runs) == ["FINISHED"] * (len(LRS) + 1)


def test_other_launchers_start_no_workers():
    basic = hydra_config().hydra.launcher
    assert not launchers.is_joblib(basic)
    assert joblib_workers.warm_up(basic, tracking_on=True) is None


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def test_ctrl_c_while_the_workers_prepare_is_one_line(tmp_path, small_csvs):
    """Interrupted while its workers start, the sweep says ``interrupted`` and nothing else
    (no joblib warning about the cancelled preparation), exits 130 and leaves no worker."""
    command = joblib_sweep(tmp_path, small_csvs, ("0.01", "0.02"))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    sweep = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not children(sweep.pid) and time.monotonic() < deadline:
            time.sleep(0.01)  # the first workers: the preparation has begun
        started = children(sweep.pid)
        assert started, "no joblib worker started"
        sweep.send_signal(signal.SIGINT)
        _, err = sweep.communicate(timeout=60)
    finally:
        sweep.kill()
    assert sweep.returncode == 130, err
    assert err.splitlines() == ["interrupted: no partial output was kept"], err
    deadline = time.monotonic() + 10  # the workers end with the sweep, not idle for minutes
    while any(Path(f"/proc/{pid}").exists() for pid in started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in started if Path(f"/proc/{pid}").exists()]


def sweep_hydra(*task: str, **sweeper: object):
    basic = {"_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"}
    return OmegaConf.create(
        {"sweeper": {**basic, "max_batch_size": None, **sweeper}, "overrides": {"task": task}}
    )


def test_workers_prepare_only_when_each_gets_a_job():
    launcher = hydra_config("hydra/launcher=joblib", "hydra.launcher.n_jobs=2").hydra.launcher
    assert joblib_workers.warm_up(launcher, tracking_on=True, jobs=1) is None


def test_the_jobs_run_at_once_are_counted_as_the_sweeper_batches_them():
    assert joblib_workers.jobs_at_once(sweep_hydra("optimizer.lr=0.1,0.2,0.3")) == 3
    assert joblib_workers.jobs_at_once(sweep_hydra("a=1,2", "b=range(3)", "c=4")) == 6
    assert joblib_workers.jobs_at_once(sweep_hydra("a=1,2,3", max_batch_size=2)) == 2
    assert joblib_workers.jobs_at_once(sweep_hydra("a=1", params={"b": "1,2"})) == 2
    assert joblib_workers.jobs_at_once(sweep_hydra("a=interval(0,1)")) is None  # not basic's
    optuna = OmegaConf.create({"sweeper": {"_target_": "x.OptunaSweeper", "n_jobs": 4}})
    assert joblib_workers.jobs_at_once(optuna) == 4
    # the project's own configuration: Hydra's basic sweeper, as a multirun composes it
    hydra = hydra_config("hydra/launcher=joblib", "hydra.launcher.n_jobs=8").hydra
    assert joblib_workers.jobs_at_once(hydra) == 1  # no sweep override: one job
