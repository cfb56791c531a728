"""MLflow's UI behind the cluster's basic auth, in headless Chromium: a logged-in browser (the
Authorization header given through DevTools) shows the experiment's runs and a run's metrics;
one without a login is refused (401: no runs table, no run)."""

import base64
import secrets
import shutil

import pytest

from tests.browser import Browser
from tests.cluster.conftest import mlflow_client
from tests.conftest import require_tool

CHROMIUM = shutil.which("chromium")
REFUSED = "You are not authenticated"  # the body of MLflow's 401


@pytest.fixture(scope="session")
def chromium() -> str:
    """Chromium, checked before the cluster starts (a session fixture listed first)."""
    require_tool(CHROMIUM, "chromium", "it renders the MLflow UI")
    assert CHROMIUM is not None
    return CHROMIUM


def test_the_ui_shows_runs_to_a_logged_in_browser_only(chromium, cluster, monkeypatch):
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
    runs_url = f"{ui}?workflowType=machine_learning"

    with Browser(CHROMIUM, cancel_logins=True) as browser:
        browser.send_headers(login)
        runs_page = browser.open(runs_url, run_name, "Run Name")
        run_page = browser.open(
            f"{ui}/runs/{run.info.run_id}?workflowType=machine_learning", run_name, "val_accuracy"
        )
        browser.send_headers({})
        refused = browser.open(runs_url.replace("/#/", "/?logged-out#/"), REFUSED)
    assert run_name in runs_page and run_name in run_page
    assert run_name not in refused and "Run Name" not in refused, refused[:2000]
