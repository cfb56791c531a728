"""docs/tracking.md, "Model versions": `register --sweep` (and `compare --register`) registers "the
best run of the sweep": the finished run with the highest final validation accuracy, as MLflow's
search returns the sweep's runs."""

import pandas as pd
import pytest

from pipeline.errors import PipelineError
from pipeline.tracking import queries
from pipeline.tracking.queries import best_run


def test_the_best_run_is_the_finished_one_with_the_highest_validation_accuracy():
    runs = pd.DataFrame(
        {
            "run_id": ["a" * 32, "b" * 32, "c" * 32, "d" * 32],
            "status": ["FINISHED", "FAILED", "FINISHED", "KILLED"],
            "metrics.val_accuracy": [0.95, 0.99, 0.97, 0.98],
        }
    )
    assert best_run(runs) == "c" * 32  # neither the FAILED nor the KILLED one
    with pytest.raises(PipelineError, match="no finished run with a val_accuracy"):
        best_run(runs[runs["status"] != "FINISHED"])


def test_the_latest_sweep_is_the_one_whose_run_started_last(monkeypatch):
    """docs/tracking.md, "Compare": `python -m pipeline.tools.compare` with no argument compares
    "the latest sweep" (as `register --sweep` registers its best): the sweep of the run that started
    last, whatever its id says, runs outside sweeps left out."""
    runs = pd.DataFrame(
        {
            "tags.sweep": ["2026-01-02/09-00-00", "2026-01-01/23-00-00", None],
            "start_time": pd.to_datetime(
                ["2026-01-02 09:00:05", "2026-01-03 10:00:00", "2026-01-04 08:00:00"]
            ),
        }
    )
    monkeypatch.setattr(queries, "search", lambda experiment, sweep: runs)
    assert queries.latest_sweep("any") == "2026-01-01/23-00-00"
    monkeypatch.setattr(queries, "search", lambda experiment, sweep: runs.iloc[2:])
    with pytest.raises(PipelineError, match="no sweep in MLflow experiment 'any'"):
        queries.latest_sweep("any")
