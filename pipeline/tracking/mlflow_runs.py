"""MLflow tracking: one run per training, holding its config, per-epoch curves and weights.

Where runs go: ``MLFLOW_TRACKING_URI`` if set (e.g. a server, ``http://127.0.0.1:5000``),
otherwise the project's own SQLite store ``mlflow.db`` with artifacts in ``mlartifacts/``, both
at the project root. The root is resolved to an absolute path, and a queued DVC experiment (which
runs in a temp copy under ``.dvc/tmp/exps/``) logs to the original project's store, not the copy's.

SQLite, not the file store: MLflow has deprecated ``./mlruns`` (it refuses it unless
``MLFLOW_ALLOW_FILE_STORE=true``), and SQLite is what ``mlflow ui`` and ``mlflow server`` read.
Creating the store, or an experiment, from several processes at once fails (or splits runs
into "Default"), so both happen under a file lock, once.
"""

import base64
import contextlib
import functools
import hashlib
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from omegaconf import OmegaConf

import scratchnn as sn
from pipeline import phases
from pipeline.cli import INTERRUPTED, shielded
from pipeline.config import PROJECT_ROOT, Config, PipelineError
from pipeline.io import write_json
from pipeline.tracking.redact import redact_command, redact_text, redact_uri

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

STORE_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
LOCK_FILE = ".mlflow.lock"
# MLflow's own record of an experiment's kind: model training, not GenAI (MLflow 3.17's UI
# picks its view from a switch kept in the browser, `?workflowType=machine_learning`)
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
LOCAL_STORE = "the project's local store"
LOCK_NOTICE_SECONDS = 10.0  # then say what is being waited for
LOCK_TIMEOUT_SECONDS = 600.0  # creating the store takes seconds (minutes on a starved CPU)
DVC_EXPERIMENT_COPY = (".dvc", "tmp", "exps")
DATASET_RACE_ATTEMPTS = 3  # see ``Run.log_inputs``


class TrackingError(PipelineError):
    """The tracking store cannot be used; the message gives its URI and what to do."""


def store_root(project_root: Path = PROJECT_ROOT) -> Path:
    """The project root that holds the local store (outside DVC's temp experiment copies)."""
    parts = project_root.resolve().parts
    for i in range(len(parts) - len(DVC_EXPERIMENT_COPY)):
        if parts[i : i + len(DVC_EXPERIMENT_COPY)] == DVC_EXPERIMENT_COPY:
            return Path(*parts[:i])
    return project_root.resolve()


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{store_root() / STORE_FILE}"


def is_local_store(uri: str) -> bool:
    return uri.startswith("sqlite:")


RUN_NAME_LIMIT = 250  # characters MLflow's SQL stores keep for a run name


def request_for(uri: str, path: str) -> urllib.request.Request:
    """A GET of ``path`` on the server at ``uri``, with the credentials MLflow's client sends:
    ``MLFLOW_TRACKING_TOKEN``, else ``MLFLOW_TRACKING_USERNAME``/``_PASSWORD``, else the
    user-info part of the URI (which urllib cannot take in the URL itself)."""
    parts = urllib.parse.urlsplit(uri)
    host = parts.netloc.rsplit("@", 1)[-1]
    url = urllib.parse.urlunsplit(parts._replace(netloc=host)).rstrip("/") + path
    request = urllib.request.Request(url)
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    password = os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if not (user and password) and parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    elif user is not None and password is not None:
        pair = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {pair}")
    return request


def check_reachable(uri: str, timeout: float = 30.0) -> None:
    """Fail fast, before any training, when a tracking server does not answer or refuses this
    client's credentials. Messages name the server without its credentials."""
    shown = redact_uri(uri)
    if not uri.startswith(("http://", "https://")):
        _check_database(uri, shown, timeout)
        return
    try:
        with urllib.request.urlopen(request_for(uri, "/health"), timeout=timeout):
            pass
        # /health is open on an authenticating server: ask something that needs a login
        search = "/api/2.0/mlflow/experiments/search?max_results=1"
        with urllib.request.urlopen(request_for(uri, search), timeout=timeout):
            pass
    except urllib.error.HTTPError as error:
        if error.code in (401, 403):
            raise TrackingError(
                f"the MLflow tracking server at {shown} refused this client ({error.code} "
                f"{error.reason}): set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD "
                f"(or MLFLOW_TRACKING_TOKEN) to an account of that server"
            ) from None
        if error.code != 404:  # a server without the search endpoint is still a server
            raise _unreachable(shown, error) from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise _unreachable(shown, error) from None


def _check_database(uri: str, shown: str, timeout: float) -> None:
    """A store on a database server (``postgresql://host:port/db``): its port must answer (the
    store itself would retry for minutes, then end in a traceback)."""
    parts = urllib.parse.urlsplit(uri)
    if is_local_store(uri) or not parts.hostname:
        return
    default_ports = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}
    port = parts.port or default_ports.get(parts.scheme.split("+")[0])
    if port is None:
        return
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as error:
        raise TrackingError(
            f"cannot reach the database of the MLflow tracking store {shown} "
            f"({redact_text(str(error))}): start it, fix MLFLOW_TRACKING_URI, or unset it to log "
            f"to the project's own store"
        ) from None


def _unreachable(shown: str, error: Exception) -> TrackingError:
    return TrackingError(
        f"cannot reach the MLflow tracking server at {shown} ({redact_text(str(error))}). Start it "
        f"(`mlflow server --host 127.0.0.1 --port ...`), fix MLFLOW_TRACKING_URI, unset it to "
        f"log to the project's own store, or turn tracking off with tracking.enabled=false"
    )


@contextlib.contextmanager
def store_lock() -> Iterator[None]:
    """The project's store lock; a wait is announced after LOCK_NOTICE_SECONDS and ends in an
    error naming the lock file after LOCK_TIMEOUT_SECONDS."""
    path = store_root() / LOCK_FILE
    lock = FileLock(path)
    try:
        lock.acquire(timeout=LOCK_NOTICE_SECONDS)
    except Timeout:
        print(f"waiting for {path}: another process is creating the MLflow store", file=sys.stderr)
        try:
            lock.acquire(timeout=LOCK_TIMEOUT_SECONDS - LOCK_NOTICE_SECONDS)
        except Timeout:
            raise TrackingError(
                f"{path}: waited {LOCK_TIMEOUT_SECONDS:g} s for this lock, which another process "
                "holds while it creates the MLflow store or an experiment; stop that process, "
                "or log elsewhere with MLFLOW_TRACKING_URI"
            ) from None
    try:
        yield
    finally:
        lock.release()


def store_exists(uri: str) -> bool:
    path = Path(uri.removeprefix("sqlite:///"))
    return path.is_file() and path.stat().st_size > 0


def client_for(uri: str):  # -> mlflow.MlflowClient, imported lazily: mlflow is slow to import
    """A client; the first one of a local store creates its schema, under the lock. Opening an
    existing store (seconds: MLflow checks the schema) is not locked: parallel jobs that all
    waited their turn for it made one train take minutes on a busy machine."""
    from mlflow import MlflowClient

    # "Creating initial MLflow database tables...", "Updating database tables": MLflow's work,
    # not the user's news (its warnings and errors still show)
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    # MLflow's run links on stdout would repeat a user part: a password, or a token as the user
    if urllib.parse.urlsplit(uri).username is not None:
        os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    if is_local_store(uri):
        with store_lock():
            if not store_exists(uri):
                return MlflowClient(tracking_uri=uri)
    return MlflowClient(tracking_uri=uri)


def ensure_experiment(client, name: str) -> str:
    """The id of experiment ``name``, created once (under the lock) if it does not exist, and
    tagged (also when it exists) as a model-training experiment."""
    uri = client.tracking_uri
    with store_lock() if is_local_store(uri) else contextlib.nullcontext():
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            location = (store_root() / ARTIFACTS_DIR).as_uri() if is_local_store(uri) else None
            return client.create_experiment(name, artifact_location=location, tags=EXPERIMENT_KIND)
        for key, value in EXPERIMENT_KIND.items():
            if experiment.tags.get(key) != value:
                client.set_experiment_tag(experiment.experiment_id, key, value)
        return experiment.experiment_id


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"optimizer": {"lr": 0.1}}`` -> ``{"optimizer.lr": 0.1}``. A list of mappings (the
    layers of ``model.layers``) is numbered: ``model.layers.0.filters``; other lists (sizes,
    shapes) stay whole values."""
    if isinstance(tree, list) and tree and all(isinstance(item, dict) for item in tree):
        tree = {str(i): item for i, item in enumerate(tree)}
    if not isinstance(tree, dict):
        return {prefix.removesuffix("."): tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(flatten(value, f"{prefix}{key}."))
    return flat


def run_params(cfg: Config) -> dict[str, Any]:
    """The configuration as a run's params, flattened, but for ``paths.*``: where one machine keeps
    its files says nothing to compare runs by (``config.yaml``, logged beside, has them)."""
    tree = config_tree(cfg)
    del tree["paths"]
    return flatten(tree)


def config_tree(cfg: Config) -> dict[str, Any]:
    tree = OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True, enum_to_str=True)
    assert isinstance(tree, dict)
    return tree


DVC_WRITTEN = ("dvc.lock", "reports")


def git_tags() -> dict[str, str]:
    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
        )
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {}
    # what `dvc repro` itself rewrites before a stage runs is not a change to the code
    written_by_dvc = [f":(exclude){path}" for path in DVC_WRITTEN]
    dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", *written_by_dvc))
    return {
        "git.commit": commit,
        "mlflow.source.git.commit": commit,
        "git.dirty": str(dirty).lower(),
    }


def command_line() -> str:
    """The command that made the run, with its secrets masked (``redact.redact_command``)."""
    main = sys.modules.get("__main__")
    module = getattr(getattr(main, "__spec__", None), "name", None)
    program = f"python -m {module}" if module else Path(sys.argv[0]).name
    return " ".join([program, *redact_command(sys.argv[1:])])


def source_tags() -> dict[str, str]:
    """What MLflow's *Source* column shows: the entry point's file, run locally."""
    main = sys.modules.get("__main__")
    path = Path(getattr(main, "__file__", None) or sys.argv[0]).resolve()
    name = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path.name
    return {"mlflow.source.name": str(name), "mlflow.source.type": "LOCAL"}


def _is_duplicate_key(error: Exception) -> bool:
    """A unique-key violation from the store's database (SQLite's or PostgreSQL's wording)."""
    text = str(error)
    return "UNIQUE constraint failed" in text or "duplicate key value" in text


def _shielded(method):
    """Run a store call to its end before an interrupt is raised (see ``cli.shielded``)."""

    @functools.wraps(method)
    def call(*args, **kwargs):
        with shielded():
            return method(*args, **kwargs)

    return call


@dataclass
class Run:
    """An MLflow run, written through the client (no global "active run" state)."""

    client: Any
    run_id: str
    experiment_id: str
    lost: bool = False  # a logging call failed (after MLflow's own retries): skip the rest

    def attempt(self, action: Callable[[], None], what: str) -> bool:
        """Run a logging ``action`` unless an earlier one failed; on failure warn once and mark
        the run lost, so a dead server costs one round of retries, not one per call."""
        if self.lost:
            return False
        if not best_effort(action, what, f"\n  nothing more is logged to run {self.run_id}"):
            self.lost = True
        return not self.lost

    @_shielded
    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(key, str(value)) for key, value in params.items()]
        for start in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=items[start : start + 100])

    @_shielded
    def log_metrics(self, values: dict[str, float], step: int = 0) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(key, float(value), now, step) for key, value in values.items()]
        self.client.log_batch(self.run_id, metrics=metrics)

    def log_epoch(self, metrics: sn.EpochMetrics) -> None:
        values = {
            "train_loss": metrics.train_loss,
            "train_accuracy": metrics.train_accuracy,
            "lr": metrics.lr,
            "epoch_seconds": metrics.seconds,
        }
        if metrics.val_loss is not None and metrics.val_accuracy is not None:
            values |= {"val_loss": metrics.val_loss, "val_accuracy": metrics.val_accuracy}
        self.log_metrics(values, step=metrics.epoch)

    @_shielded
    def set_tags(self, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, value)

    @_shielded
    def log_inputs(self, datasets: list) -> None:
        """Log dataset inputs. MLflow's SQL store looks a dataset up, then inserts it: two runs
        of one sweep that log the same new dataset at once both insert, and the second breaks
        the unique key. Its retry finds the dataset the first one wrote."""
        for attempt in range(DATASET_RACE_ATTEMPTS):
            try:
                self.client.log_inputs(self.run_id, datasets=datasets)
                return
            except Exception as error:
                if attempt + 1 == DATASET_RACE_ATTEMPTS or not _is_duplicate_key(error):
                    raise

    @_shielded
    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path)

    @_shielded
    def log_artifacts(self, folder: str | Path, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(self.run_id, str(folder), artifact_path)

    @_shielded
    def log_text(self, text: str, name: str) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            path.write_text(text)
            self.log_artifact(path)

    @_shielded
    def end(self, status: str) -> None:
        self.client.set_terminated(self.run_id, status)


def start_run(
    cfg: Config,
    run_name: str | None,
    tags: dict[str, str] | None = None,
    parent_run_id: str | None = None,
) -> Run:
    """Create a run in ``tracking.experiment`` with the whole config as params."""
    uri = tracking_uri()
    check_reachable(uri)
    client = client_for(uri)
    experiment_id = ensure_experiment(client, cfg.tracking.experiment)
    all_tags = {**git_tags(), **source_tags(), "command": command_line(), **(tags or {})}
    if parent_run_id:
        all_tags["mlflow.parentRunId"] = parent_run_id
    with shielded():
        name = run_name[:RUN_NAME_LIMIT] if run_name else run_name
        run = client.create_run(experiment_id, run_name=name, tags=all_tags)
    tracked = Run(client, run.info.run_id, experiment_id)
    tracked.log_params(run_params(cfg))
    tracked.log_text(OmegaConf.to_yaml(OmegaConf.structured(cfg)), "config.yaml")
    return tracked


def resume_run(run_id: str) -> Run:
    """A run started by an earlier process (``evaluate`` continues ``train``'s run)."""
    uri = tracking_uri()
    check_reachable(uri)
    client = client_for(uri)
    return Run(client, run_id, client.get_run(run_id).info.experiment_id)


def reopen_run(run_id: str, history: list[sn.EpochMetrics]) -> Run:
    """Set a killed run RUNNING again, for a training that resumes from its checkpoint, and
    log the checkpointed epochs it missed (a kill can fall between checkpoint and logging)."""
    run = resume_run(run_id)
    run.client.update_run(run_id, status="RUNNING")
    if "error" in run.client.get_run(run_id).data.tags:  # "interrupted": no longer true
        run.client.delete_tag(run_id, "error")
    logged = {m.step for m in run.client.get_metric_history(run_id, "train_loss")}
    for metrics in history:
        if metrics.epoch not in logged:
            run.log_epoch(metrics)
    return run


@contextlib.contextmanager
def run_status(run: Run | None) -> Iterator[Run | None]:
    """End ``run`` FINISHED on success, KILLED on Ctrl-C/SIGTERM, FAILED (with the error) else."""
    if run is None:
        yield None
        return
    try:
        yield run
    except KeyboardInterrupt:
        _finish(run, "KILLED", "interrupted")
        raise
    except BaseException as error:
        _finish(run, "FAILED", redact_text(f"{type(error).__name__}: {error}")[:5000])
        raise
    with phases.timed("tracking: ending the run"):
        ended = run.attempt(lambda: run.end("FINISHED"), "ending the run")
    if not ended:
        print(
            f"warning: MLflow run {run.run_id} is incomplete (it may still show RUNNING); "
            "this training's outputs are all on disk",
            file=sys.stderr,
        )


def _finish(run: Run, status: str, error: str) -> None:
    """Mark ``run`` ended. An interrupt can land mid-request and leave the client's connection
    unusable, so a second try goes through a new client."""

    def mark(target: Run) -> None:
        target.set_tags({"error": error})
        target.end(status)

    try:
        mark(run)
    except Exception:  # the store's own error, whatever its kind: try afresh
        try:
            mark(Run(client_for(tracking_uri()), run.run_id, run.experiment_id))
        except Exception as failure:
            print(
                f"warning: could not mark the MLflow run {status}: {redact_text(str(failure))}",
                file=sys.stderr,
            )


def best_effort(action: Callable[[], None], what: str, then: str = "") -> bool:
    """Run a logging ``action``; on failure warn (the results are already on disk) and go on."""
    try:
        action()
    except Exception as error:  # any failure of the tracking backend
        if INTERRUPTED.is_set():  # a signal that landed inside the store's own code
            raise KeyboardInterrupt("SIGTERM") from error
        print(f"warning: {what} to MLflow failed: {redact_text(str(error))}{then}", file=sys.stderr)
        return False
    return True


class EpochLogger:
    """Logs each epoch's metrics; after a failure it warns once and stops trying, so a
    tracking outage never interrupts training."""

    def __init__(self, run: Run | None) -> None:
        self.run = run

    def __call__(self, metrics: sn.EpochMetrics) -> None:
        run = self.run
        if run is not None:
            run.attempt(lambda: run.log_epoch(metrics), f"logging epoch {metrics.epoch}")


def dvc_tags() -> dict[str, str]:
    """What DVC tells a stage about itself (set for `dvc repro` and `dvc exp run`)."""
    names = {
        "DVC_EXP_NAME": "dvc.experiment",
        "DVC_EXP_BASELINE_REV": "dvc.baseline_rev",
        "DVC_STAGE": "dvc.stage",
    }
    return {tag: os.environ[var] for var, tag in names.items() if os.environ.get(var)}


def data_tags(cfg: Config) -> dict[str, str]:
    """The prepared data's identity: a hash of its info.json (row counts, label counts, sources
    and the arrays' checksums when prepare records them)."""
    info = Path(cfg.paths.prepared) / "info.json"
    if not info.is_file():
        return {}
    return {"data.hash": hashlib.sha256(info.read_bytes()).hexdigest()[:16]}


def stage_run_name() -> str | None:
    """The DVC experiment's name (`dvc exp run`), else ``repro 1a2b3c4`` (`dvc repro` at that
    commit); None outside git, and MLflow picks a name."""
    if os.environ.get("DVC_EXP_NAME"):
        return os.environ["DVC_EXP_NAME"]
    commit = git_tags().get("git.commit")
    return f"repro {commit[:7]}" if commit else None


def start_stage_run(cfg: Config) -> Run | None:
    """The run of a `dvc repro` / `dvc exp run` training, or None with tracking off."""
    if not cfg.tracking.enabled:
        return None
    tags = {**dvc_tags(), **data_tags(cfg)}
    return start_run(cfg, run_name=stage_run_name(), tags=tags)


def where(uri: str) -> str:
    """A tracking URI as it may be printed or saved: redacted, or the project's own store."""
    return LOCAL_STORE if uri == f"sqlite:///{store_root() / STORE_FILE}" else redact_uri(uri)


def write_run_file(path: Path, run: Run | None, experiment: str) -> None:
    """``reports/run.json`` (committed): only what means something on another machine."""
    if run is None:
        write_json(path, {"run_id": None})
        return
    record = {
        "run_id": run.run_id,
        "experiment_id": run.experiment_id,
        "experiment": experiment,
        "tracking": where(run.client.tracking_uri),
    }
    write_json(path, record)


def read_run_file(path: Path) -> str | None:
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get("run_id")
