"""A distributed Optuna study: two sweeps at once share one study in PostgreSQL."""

import secrets
import subprocess

import pytest

from tests.cluster.conftest import (
    HANG_SECONDS,
    client_env,
    experiment_runs,
    mlflow_client,
    sweep_command,
)


def test_two_sweeps_share_one_study(cluster, tmp_path, small_csvs, monkeypatch):
    optuna = pytest.importorskip("optuna")
    from pipeline.tools import optuna_storage

    study = f"shared-{secrets.token_hex(4)}"
    experiment = f"optuna-{secrets.token_hex(4)}"
    env = client_env(cluster)
    monkeypatch.setenv("PGPASSFILE", cluster.pgpass)
    optuna_storage.create_storage(cluster.optuna_storage)  # once, before the sweeps share it
    sweeps = []
    for worker in ("a", "b"):
        folder = tmp_path / worker
        command = sweep_command(
            folder, small_csvs, experiment, "hparams_search=optuna",
            f"hydra.sweeper.storage={cluster.optuna_storage}",
            f"hydra.sweeper.study_name={study}", "hydra.sweeper.n_trials=2",
        )  # fmt: skip
        sweeps.append(subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True))
    for process in sweeps:
        _, err = process.communicate(timeout=HANG_SECONDS)
        assert process.returncode == 0, err

    optuna_storage.install()
    trials = optuna.load_study(study_name=study, storage=cluster.optuna_storage).trials
    assert len(trials) == 4
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]  # numbered uniquely across sweeps
    assert {t.state.name for t in trials} == {"COMPLETE"}
    runs = experiment_runs(mlflow_client(cluster, monkeypatch), experiment)
    trial_runs = [r for r in runs if "sweep.parent" not in r.data.tags]
    assert len(trial_runs) == 4
    assert {r.info.status for r in runs} == {"FINISHED"}
