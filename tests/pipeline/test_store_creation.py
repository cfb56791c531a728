"""Creating the project's MLflow store prints none of MLflow's INFO lines ("Creating initial
MLflow database tables...", "Updating database tables"): `make run`'s output is the pipeline's."""

import subprocess
import sys

CREATE = """
import sys
from pipeline.tracking.mlflow_runs import client_for, ensure_experiment
ensure_experiment(client_for(sys.argv[1]), "quiet")
"""


def test_a_new_store_is_created_without_mlflows_info_lines(tmp_path):
    store = tmp_path / "mlflow.db"
    result = subprocess.run(
        [sys.executable, "-c", CREATE, f"sqlite:///{store}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert store.stat().st_size > 0  # the schema was made
    assert "INFO" not in result.stdout + result.stderr, result.stderr
