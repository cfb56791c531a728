"""Runs of one sweep log the same new datasets at the same moment, into one SQLite store.

MLflow's SQL store looks a dataset up, then inserts it: two runs that both miss it both insert,
and the second breaks the store's unique key (seen in CI on a 4-job joblib sweep).
"""

import threading
from pathlib import Path

from mlflow import MlflowClient

from pipeline.tracking import datasets, mlflow_runs
from tests.conftest import random_prepared

WRITERS = 6


def log_after(barrier, run: mlflow_runs.Run, inputs: list, errors: list[str]) -> None:
    barrier.wait()
    try:
        run.log_inputs(inputs)
    except Exception as error:  # reported to the test, which fails naming it
        errors.append(f"{type(error).__name__}: {error}"[:300])


def test_runs_logging_the_same_new_datasets_at_once_all_succeed(tmp_path: Path):
    prepared = random_prepared(tmp_path / "prepared", {"train": 40, "val": 10, "test": 20})
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("race")
    inputs = datasets.dataset_inputs(prepared)
    runs = [
        mlflow_runs.Run(client, client.create_run(experiment_id).info.run_id, experiment_id)
        for _ in range(WRITERS)
    ]
    # threads, each with its own connection from the store's pool: they interleave between
    # the lookup and the insert as processes do (and start in milliseconds)
    barrier, errors = threading.Barrier(WRITERS), []
    writers = [
        threading.Thread(target=log_after, args=(barrier, run, inputs, errors)) for run in runs
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=300)
    assert not errors, errors

    runs = client.search_runs([experiment_id])
    assert len(runs) == WRITERS
    for run in runs:
        names = sorted(entry.dataset.name for entry in run.inputs.dataset_inputs)
        assert names == ["mnist-test", "mnist-train", "mnist-val"], run.info.run_id
    digests = {entry.dataset.digest for run in runs for entry in run.inputs.dataset_inputs}
    assert len(digests) == 3  # one dataset each, shared by every run
