"""README, "Model versions": `register --sweep` (and `compare --register`) registers "the best run
of the sweep": the finished run with the highest final validation accuracy, as MLflow's
search returns the sweep's runs."""

import pandas as pd
import pytest

from pipeline.errors import PipelineError
from pipeline.tools.register import best_run


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
