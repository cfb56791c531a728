"""MLflow's UI behind the cluster's basic auth, in headless Chromium: a logged-in browser (the
Authorization header given through DevTools) shows the experiment's runs and a run's metrics;
one without a login is refused (401: no runs table, no run)."""

import base64
import secrets
import shutil

import pytest

from tests.cluster.conftest import mlflow_client
from tests.cluster.devtools import chromium

CHROMIUM = shutil.which("chromium")


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (.ci/run installs it; apt-get install chromium)",
)
def test_the_ui_shows_runs_to_a_logged_in_browser_only(cluster, monkeypatch):
    assert CHROMIUM is not None
    client = mlflow_client(cluster, monkeypatch)
    name = f"browser-{secrets.token_hex(4)}"
    experiment_id = client.create_experiment(name)
    run = client.create_run(experiment_id, run_name=f"run-{secrets.token_hex(4)}")
    client.log_metric(run.info.run_id, "val_accuracy", 0.9731, step=1)
    client.set_terminated(run.info.run_id)
    run_name = run.info.run_name
    pair = f"{cluster.tracking_username}:{cluster.tracking_password}"
    login = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
    ui = f"{cluster.tracking_uri}/#/experiments/{experiment_id}"

    with chromium(CHROMIUM) as browser:
        tab = browser.page(login)
        runs_page = browser.text(tab, f"{ui}?workflowType=machine_learning", [run_name])
        run_page = browser.text(
            tab, f"{ui}/runs/{run.info.run_id}?workflowType=machine_learning", ["val_accuracy"]
        )
        refused = browser.text(
            browser.page(), f"{ui}?workflowType=machine_learning", [run_name], 20
        )
    assert run_name in runs_page and "Run Name" in runs_page, runs_page[:2000]
    assert run_name in run_page and "val_accuracy" in run_page, run_page[:2000]
    assert run_name not in refused and "Run Name" not in refused, refused[:2000]
