"""MLflow as its users expect it, against a real `mlflow server` on loopback holding a small
two-key sweep: readable runs with datasets, a logged MLflow Model that holds no pickle and
loads and serves in a fresh virtualenv, model versions with a champion, compare's winners,
and the UI checked in headless Chromium."""

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

import scratchnn as sn
from pipeline.config import PROJECT_ROOT
from pipeline.data.artifacts import load_split
from pipeline.tracking.logged_model import REGISTERED_MODEL, pinned_requirements
from tests.browser import Browser
from tests.conftest import (
    free_port,
    require_tool,
    running_mlflow_server,
    tiny_overrides,
    write_digits_csv,
)

EXPERIMENT = "test-models"
LRS, BATCHES = ("0.01", "0.05"), ("16", "32")
PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
CHROMIUM = shutil.which("chromium")


def env(uri: str) -> dict[str, str]:
    return {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true"}


def run_module(module: str, *args: str, cwd: Path, uri: str) -> subprocess.CompletedProcess:
    """``python -m module args`` logging to the tracking server at ``uri``, output captured."""
    command = [sys.executable, "-m", module, *args]
    return subprocess.run(command, cwd=cwd, env=env(uri), capture_output=True, text=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_mlflow_server(tmp_path_factory.mktemp("server")) as running:
        yield running


@pytest.fixture(scope="module")
def sweep(server, tmp_path_factory) -> dict:
    """A 2 x 2 sweep (learning rate x batch size) of 2-epoch trainings, logged to the server."""
    folder = tmp_path_factory.mktemp("sweep")
    csvs = (folder / "csv" / "train.csv", folder / "csv" / "test.csv")
    write_digits_csv(csvs[0], 300, seed=1)
    write_digits_csv(csvs[1], 100, seed=2)
    arguments = [
        "-m",
        f"optimizer.lr={','.join(LRS)}",
        f"train.batch_size={','.join(BATCHES)}",
        *(
            override  # the sweep's own batch sizes, not the tiny training's one
            for override in tiny_overrides(folder, csvs, epochs=2, experiment=EXPERIMENT)
            if not override.startswith("train.batch_size=")
        ),
        f"hydra.sweep.dir={folder / 'multirun'}",
    ]
    result = run_module("pipeline.tools.sweep", *arguments, cwd=PROJECT_ROOT, uri=server.uri)
    assert result.returncode == 0, result.stderr
    client = MlflowClient(server.uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = [
        run
        for run in client.search_runs([experiment.experiment_id])
        if "sweep.parent" not in run.data.tags
    ]
    best = max(runs, key=lambda run: run.data.metrics["val_accuracy"])
    worst = min(runs, key=lambda run: run.data.metrics["val_accuracy"])
    return {
        "folder": folder,
        "prepared": folder / "multirun" / "0" / "prepared",  # each job prepares its own
        "csvs": csvs,
        "experiment": experiment,
        "runs": runs,
        "best": best,
        "worst": worst,
        "client": client,
    }


def test_runs_read_as_trainings_with_their_datasets(sweep):
    assert sweep["experiment"].tags["mlflow.experimentKind"] == "custom_model_development"
    runs = sweep["runs"]
    names = {run.data.tags["mlflow.runName"] for run in runs}
    assert names == {f"optimizer.lr={lr},train.batch_size={b}" for lr in LRS for b in BATCHES}
    digests = set()
    for run in runs:
        tags = run.data.tags
        assert tags["mlflow.source.name"] == "pipeline/tools/sweep.py"
        assert tags["mlflow.source.type"] == "LOCAL" and len(tags["mlflow.source.git.commit"]) == 40
        assert tags["model.architecture"] == "784 → dense 16 → relu → dense 10"
        assert tags["model.parameter_count"] == str(784 * 16 + 16 + 16 * 10 + 10)
        inputs = {
            d.dataset.name: (d.dataset, {t.key: t.value for t in d.tags})
            for d in run.inputs.dataset_inputs
        }
        contexts = {name: tags["mlflow.data.context"] for name, (_, tags) in inputs.items()}
        assert contexts == {
            "mnist-train": "training",
            "mnist-val": "validation",
            "mnist-test": "test",
        }
        rows = {name: json.loads(d.profile)["num_rows"] for name, (d, _) in inputs.items()}
        assert rows == {"mnist-train": 250, "mnist-val": 50, "mnist-test": 100}
        assert json.loads(inputs["mnist-test"][0].source)["uri"].endswith("csv/test.csv")
        digests.add(tuple(sorted((name, d.digest) for name, (d, _) in inputs.items())))
    assert len(digests) == 1  # the same prepared data: the same digests in every run


def downloaded_model(uri: str, run_id: str, folder: Path) -> Path:
    import mlflow

    mlflow.set_tracking_uri(uri)
    return Path(mlflow.artifacts.download_artifacts(f"runs:/{run_id}/model", dst_path=folder))


def test_logged_model_is_code_and_npz_with_no_pickle(sweep, server, tmp_path, monkeypatch):
    run = sweep["best"]
    model = downloaded_model(server.uri, run.info.run_id, tmp_path)
    files = [p for p in model.rglob("*") if p.is_file()]
    assert {"MLmodel", "pyfunc_model.py", "artifacts/model.npz", "code/scratchnn/network.py"} <= {
        str(p.relative_to(model)) for p in files
    }
    for path in files:
        assert path.suffix not in (".pkl", ".pickle"), path
        assert not path.read_bytes().startswith(PICKLE_MAGIC), path
    flavor = (model / "MLmodel").read_text()
    assert "loader_module: mlflow.pyfunc.loaders.code_model" in flavor
    assert "python_model.pkl" not in flavor

    import mlflow

    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    loaded = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    x, _ = load_split(sweep["prepared"], "test")
    frame = pd.DataFrame(x, columns=[f"pixel{i}" for i in range(784)])
    predicted = loaded.predict(frame)
    assert list(predicted.columns) == ["digit", *(f"p{d}" for d in range(10))]
    weights = sn.load_weights(model / "artifacts" / "model.npz")
    assert predicted["digit"].tolist() == weights.predict(x).tolist()
    np.testing.assert_allclose(predicted.iloc[:, 1:].sum(axis=1), 1.0, rtol=1e-6)
    signature = loaded.metadata.signature
    assert len(signature.inputs.input_names()) == 784
    assert signature.outputs.input_names()[0] == "digit"


@pytest.fixture(scope="session")
def fresh_venv(request) -> Path:
    """A virtualenv with only the pinned MLflow (skinny), NumPy and pandas, at the lock's
    versions: nothing of this project. Cached in pytest's cache by the lock's pins (building
    it takes about 10 s)."""
    pins = [
        line.split()[0]
        for line in (PROJECT_ROOT / "requirements.lock").read_text().splitlines()
        if re.match(r"^[A-Za-z0-9._-]+==", line)
    ]
    key = hashlib.sha256("\n".join(pins + pinned_requirements()).encode()).hexdigest()[:12]
    venv = Path(request.config.cache.mkdir("fresh-mlflow-venv")) / key
    ready = venv / ".ready"
    if not ready.exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        constraints = venv / "constraints.txt"
        constraints.write_text("\n".join(pins) + "\n")
        # no byte-compiling of every installed file: 17 s -> 8 s; Python compiles what it imports
        pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        install = [*pip, "install", "--quiet", "--no-compile"]
        result = subprocess.run(
            [*install, "-c", str(constraints), *pinned_requirements()],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        ready.touch()
    return venv


LOAD_AND_PREDICT = """
import sys, numpy as np, pandas as pd, mlflow
x = np.load(sys.argv[2])
frame = pd.DataFrame(x, columns=[f"pixel{i}" for i in range(784)])
print(mlflow.pyfunc.load_model(sys.argv[1]).predict(frame)["digit"].tolist())
print(sorted(m for m in sys.modules if m.split(".")[0] in ("pipeline", "torch", "sklearn")))
"""


@pytest.mark.slow
def test_fresh_virtualenv_loads_and_serves_the_model(sweep, server, fresh_venv, tmp_path):
    run = sweep["best"]
    uri = f"runs:/{run.info.run_id}/model"
    x, _ = load_split(sweep["prepared"], "test")
    np.save(tmp_path / "x.npy", x)
    expected = (
        sn.load_weights(
            downloaded_model(server.uri, run.info.run_id, tmp_path / "m")
            / "artifacts"
            / "model.npz"
        )
        .predict(x)
        .tolist()
    )
    clean = {
        "PATH": f"{fresh_venv / 'bin'}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "MLFLOW_TRACKING_URI": server.uri,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",
    }
    python = str(fresh_venv / "bin" / "python")
    result = subprocess.run(
        [python, "-c", LOAD_AND_PREDICT, uri, str(tmp_path / "x.npy")],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    digits, modules = result.stdout.splitlines()[-2:]
    assert json.loads(digits) == expected and modules == "[]"

    body = {
        "dataframe_split": {"columns": [f"pixel{i}" for i in range(784)], "data": x[:20].tolist()}
    }
    serve = [str(fresh_venv / "bin" / "mlflow"), "models", "serve", "-m", uri]
    serve += ["--env-manager", "local", "-h", "127.0.0.1", "-p"]
    answer = serve_and_post(serve, body, cwd=tmp_path, env=clean, log=tmp_path / "serve.log")
    assert [row["digit"] for row in answer["predictions"]] == expected[:20]


class PortTaken(Exception):
    """Another process took the probed port before the server bound it."""


def serve_and_post(command: list[str], body: dict, *, cwd: Path, env: dict, log: Path) -> dict:
    """Start ``command`` + a free port, post ``body`` to its /invocations once it answers, stop
    it. The port is probed, then given to the server: should another process take it in
    between, the server exits, and it is started again on another port."""
    for attempt in range(3):
        port = free_port()
        serving = subprocess.Popen(
            [*command, str(port)],
            cwd=cwd,
            env=env,
            start_new_session=True,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            return post_when_up(f"http://127.0.0.1:{port}/invocations", body, serving, log)
        except PortTaken:
            if attempt == 2:
                raise
        finally:
            for signum in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(serving.pid, signum)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    serving.wait(timeout=5)
    raise AssertionError("unreachable")


def post_when_up(url: str, body: dict, process: subprocess.Popen, log: Path) -> dict:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    deadline = time.monotonic() + 300
    while True:
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except OSError:
            if process.poll() is not None and "address already in use" in log.read_text().lower():
                raise PortTaken(log.read_text()) from None
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no answer: {log.read_text()}") from None
            time.sleep(1)


@pytest.fixture(scope="module")
def registered(sweep, server) -> list[str]:
    """Register the worst run (by the first characters of its id), then the best with
    `compare --register` (no sweep named: the latest, the only one here), then the worst again;
    return the last line each printed."""
    worst = ("pipeline.tools.register", sweep["worst"].info.run_id[:8])
    lines = []
    for command in (worst, ("pipeline.tools.compare", "--register"), worst):
        result = run_module(
            *command, "--experiment", EXPERIMENT, cwd=sweep["folder"], uri=server.uri
        )
        assert result.returncode == 0, result.stderr
        lines.append(result.stdout.strip().splitlines()[-1])
    return lines


def test_champion_moves_only_to_a_better_version(sweep, server, registered):
    """docs/tracking.md: "`--register` then registers the best run" of the sweep compared; a new
    version becomes champion only when it beats the champion, and the tool says which."""
    best = sweep["best"].info.run_id
    assert registered[1].startswith(f"registered run {best} as neuralscratch version 2 (")
    assert "version 1" in registered[0] and "it is the first champion" in registered[0]
    assert "version 2" in registered[1] and "champion -> version 2" in registered[1]
    assert "version 3" in registered[2] and "the champion stays version 2" in registered[2]
    champion = sweep["client"].get_model_version_by_alias(REGISTERED_MODEL, "champion")
    assert champion.version == "2" and champion.run_id == sweep["best"].info.run_id


def test_predict_takes_model_uris(sweep, server, registered, tmp_path):
    best = sweep["best"].info.run_id
    weights = downloaded_model(server.uri, best, tmp_path / "m") / "artifacts" / "model.npz"
    for model in (f"models:/{REGISTERED_MODEL}@champion", f"runs:/{best}/model"):
        out = tmp_path / "submission.csv"
        result = run_module(
            "pipeline.stages.predict",
            "--csv",
            str(sweep["csvs"][1]),
            "--model",
            model,
            "--output",
            str(out),
            cwd=tmp_path,
            uri=server.uri,
        )
        assert result.returncode == 0, result.stderr
        x, _ = load_split(sweep["prepared"], "test")
        assert pd.read_csv(out)["Label"].tolist() == sn.load_weights(weights).predict(x).tolist()
    missing = run_module(
        "pipeline.stages.predict",
        "--csv",
        str(sweep["csvs"][1]),
        "--model",
        f"models:/{REGISTERED_MODEL}@nobody",
        "--output",
        str(tmp_path / "o.csv"),
        cwd=tmp_path,
        uri=server.uri,
    )
    assert missing.returncode == 1 and missing.stderr.startswith("error: models:/")
    assert "Traceback" not in missing.stderr and not (tmp_path / "o.csv").exists()


def test_compare_names_the_winning_values_and_draws_parallel_coordinates(sweep, server, tmp_path):
    """docs/tracking.md: `compare <sweep> --sort test_accuracy` lists that sweep's runs, best test
    accuracy first, then the sweep's winning values."""
    png = tmp_path / "curves.png"
    (sweep_id,) = {run.data.tags["sweep"] for run in sweep["runs"]}
    result = run_module(
        "pipeline.tools.compare",
        sweep_id,
        "--sort",
        "test_accuracy",
        "--experiment",
        EXPERIMENT,
        "--png",
        str(png),
        cwd=tmp_path,
        uri=server.uri,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"4 runs of sweep {sweep_id} (")
    assert lines[0].endswith("best test_accuracy first:")
    column = lines[1].split().index("test_accuracy")
    printed = [float(line.split()[column]) for line in lines[2:6]]
    assert printed == sorted(printed, reverse=True)
    by_id = {run.info.run_id[:8]: run.data.metrics["test_accuracy"] for run in sweep["runs"]}
    assert [by_id[line.split()[-1]] for line in lines[2:6]] == pytest.approx(printed, abs=1e-6)
    best = sweep["best"].data.params
    winner = (
        f"best optimizer.lr={best['optimizer.lr']}, train.batch_size={best['train.batch_size']}"
    )
    assert winner in result.stdout
    parallel = png.with_name("curves.parallel.png")
    assert f"parallel coordinates -> {parallel}" in result.stdout
    assert parallel.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# Clicks the expander of the runs table's row named by the argument; returns how many it clicked.
EXPAND_RUN = """
(() => {
  const rows = [...document.querySelectorAll('[role=row]')]
    .filter(row => row.innerText.split('\\n').includes(%s));
  const buttons = rows.flatMap(row => [...row.querySelectorAll(
    'button[data-component-id$="runnamecellrenderer.tsx_46"]')]);
  buttons.forEach(button => button.click());
  return buttons.length;
})()
"""


def test_the_mlflow_ui_shows_runs_models_and_versions(sweep, server, registered):
    """In headless Chromium, as a person sees the pages once their scripts have fetched the
    data: the experiment opens on its training runs, the sweep's jobs folded under their
    parent and listed by name once it is expanded; a run page with its metrics, datasets and
    logged model; MLflow's comparison of the sweep's runs; the registered model's three
    versions and the champion."""
    require_tool(CHROMIUM, "chromium", "it renders the MLflow UI")
    experiment_id = sweep["experiment"].experiment_id
    ui = f"{server.uri}/#/experiments/{experiment_id}"
    parent = f"sweep {sweep['runs'][0].data.tags['sweep']}"
    names = [run.data.tags["mlflow.runName"] for run in sweep["runs"]]
    with Browser(CHROMIUM) as browser:
        table = browser.open(f"{ui}?workflowType=machine_learning", parent, "matching runs")
        assert "Detect issues" not in table  # not the GenAI overview
        header = table.split("Run Name", 1)[1].split(parent, 1)[0].split()
        assert {"Dataset", "Source", "Models"} <= set(header)  # the training runs' table
        assert not any(name in table for name in names)  # the jobs, folded under the parent
        assert browser.evaluate(EXPAND_RUN % json.dumps(parent)) == 1
        lines = browser.wait_for(*names).splitlines()
        assert sorted(line for line in lines if line in names) == sorted(names)  # a row each
        assert lines.index(parent) < min(lines.index(name) for name in names)  # under it

        best = sweep["best"]
        run_page = browser.open(
            f"{ui}/runs/{best.info.run_id}?workflowType=machine_learning",
            "Metrics (8)",
            "Logged models (1)",
            "Ready",  # the logged model's row
            "mnist-train",
        )
        assert best.data.tags["mlflow.runName"] in run_page
        metrics = run_page.split("Metrics (8)", 1)[1].split("Parameters", 1)[0].splitlines()
        for metric in ("train_loss", "val_accuracy", "test_accuracy"):
            value = float(metrics[metrics.index(metric) + 1])
            assert value == pytest.approx(best.data.metrics[metric]), metric
        logged = run_page.split("Logged models (1)", 1)[1].split("About this run", 1)[0].split()
        assert "model" in logged and logged[logged.index("model") + 1] == "Ready", logged
        assert "neuralscratch" in logged and "v2" in logged  # registered as version 2

        ids = json.dumps([run.info.run_id for run in sweep["runs"]])
        compare = browser.open(
            f"{server.uri}/#/compare-runs?runs={urllib.parse.quote(ids)}"
            f"&experiments={urllib.parse.quote(json.dumps([experiment_id]))}",
            *names,
            "val_accuracy",
        )
        assert "Parallel Coordinates Plot" in compare or "Parallel coordinates" in compare

        versions = browser.open(
            f"{server.uri}/#/models/{REGISTERED_MODEL}", "Version 1", "Version 2", "Version 3"
        )
        table = versions.split("Version 3", 1)[1].splitlines()
        champion = table.index("@ champion")
        assert "Version 2" in table[:champion] and "Version 1" not in table[:champion]
