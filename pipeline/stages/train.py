"""Stage ``train``: fit the network on the prepared training split, one line per epoch."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

import scratchnn as sn
from pipeline import phases
from pipeline.cli import run_stage
from pipeline.config import Config, load_params
from pipeline.data.artifacts import DYNAMICS_FILE, HISTORY_FILE, N_CLASSES, RUN_FILE, load_split
from pipeline.data.catalog import dataset
from pipeline.io import all_or_nothing, atomic_file, write_text
from pipeline.network import checkpoint
from pipeline.network.factory import (
    build_augment,
    build_network,
    build_optimizer,
    build_schedule,
    check_model,
)
from pipeline.network.first_checks import first_checks
from pipeline.progress import batch_progress
from pipeline.tracking import datasets, logged_model, mlflow_runs

EXAMPLE_ROWS = 2  # validation images saved with the MLflow Model as its input example
DYNAMICS_IMAGES = 512  # training images the per-layer activation statistics are measured on


def progress_line(metrics: sn.EpochMetrics, epochs: int) -> str:
    line = (
        f"epoch {metrics.epoch:>{len(str(epochs))}}/{epochs}  lr {metrics.lr:.6f}  "
        f"loss {metrics.train_loss:.4f}  acc {metrics.train_accuracy:.2%}"
    )
    if metrics.val_loss is not None and metrics.val_accuracy is not None:
        line += f"  val_loss {metrics.val_loss:.4f}  val_acc {metrics.val_accuracy:.2%}"
    return line + f"  {metrics.seconds:.1f}s"


def both(
    first: Callable[[int, int], None], second: Callable[[int, int], None] | None
) -> Callable[[int, int], None]:
    """One batch callback that calls ``first``, then ``second`` if there is one."""

    def call(done: int, total: int) -> None:
        first(done, total)
        if second is not None:
            second(done, total)

    return call


def train(
    cfg: Config,
    on_epoch_end: Callable[[sn.EpochMetrics], None] | None = None,
    checkpoint_file: Path | None = None,
    resume: checkpoint.Checkpoint | None = None,
    run_id: str | None = None,
    on_batch_end: Callable[[int, int], None] | None = None,
    log_metrics: Callable[[dict[str, float], int], None] | None = None,
    dynamics_rows: list[dict[str, float]] | None = None,
) -> tuple[sn.Network, list[sn.EpochMetrics]]:
    """Train on ``paths.prepared`` and return the network and its whole per-epoch history.

    With ``checkpoint_file``, a checkpoint (naming MLflow run ``run_id``) is written after every
    epoch; with ``resume``, training goes on from such a checkpoint. A fresh start first runs
    the first checks (printed; their metrics to ``log_metrics(values, 0)``). With
    ``train.diagnostics``, each epoch's per-layer statistics go to ``log_metrics(values, epoch)``
    and, with their epoch, into ``dynamics_rows`` (those of a checkpoint's epochs first).
    """
    rows = dynamics_rows if dynamics_rows is not None else []
    with phases.timed("data loading"):
        x, y = load_split(cfg.paths.prepared, "train")
        validation = load_split(cfg.paths.prepared, "val")
    assert y is not None and validation[1] is not None
    network = build_network(cfg, n_inputs=x.shape[1], n_classes=N_CLASSES)
    optimizer = build_optimizer(cfg, network)
    rng = np.random.default_rng([cfg.train.seed, 1])  # batch order, apart from the init draws
    history: list[sn.EpochMetrics] = []
    stamp = checkpoint.fingerprint(cfg) if checkpoint_file is not None else ""
    if resume is not None:
        network.params[...] = resume.params
        network.state[...] = resume.state
        optimizer.load_state(resume.optimizer)
        rng.bit_generator.state = resume.rng_state
        history = list(resume.history)
        rows[:] = resume.dynamics
        print(f"resuming after epoch {resume.epoch} from a checkpoint", flush=True)
    else:
        with phases.timed("first checks"):
            lines, check_metrics = first_checks(cfg, network, (x, y), validation)
        print("\n".join(lines), flush=True)
        if log_metrics is not None:
            log_metrics(check_metrics, 0)
    dynamics = None
    if cfg.train.diagnostics:
        dynamics = sn.LayerDynamics(network, x[:DYNAMICS_IMAGES].astype(network.dtype))
        on_batch_end = both(dynamics.on_batch_end, on_batch_end)

    def after_epoch(metrics: sn.EpochMetrics) -> None:
        history.append(metrics)
        if dynamics is not None:
            with phases.timed("diagnostics"):
                values = dynamics.epoch_end()
            rows.append({"epoch": metrics.epoch, **values})
            if log_metrics is not None:
                log_metrics(values, metrics.epoch)
        if checkpoint_file is not None:
            state = checkpoint.Checkpoint(
                metrics.epoch,
                network.params,
                network.state,
                optimizer.state(),
                rng.bit_generator.state,
                history,
                run_id,
                rows,
            )
            with phases.timed("checkpoints"):
                checkpoint.save(checkpoint_file, state, stamp)
        if on_epoch_end is not None:
            on_epoch_end(metrics)

    with phases.timed("epochs"):
        sn.fit(
            network,
            optimizer,
            build_schedule(cfg),
            x.astype(network.dtype, copy=False),
            y,
            epochs=cfg.train.epochs,
            batch_size=cfg.train.batch_size,
            rng=rng,
            validation=(validation[0].astype(network.dtype, copy=False), validation[1]),
            weight_decay=cfg.train.weight_decay,
            clip_norm=cfg.train.clip_norm,
            on_epoch_end=after_epoch,
            start_epoch=len(history),
            augment=build_augment(cfg),
            on_batch_end=on_batch_end,
        )
    return network, history


def history_csv(history: list[sn.EpochMetrics]) -> str:
    """Per-epoch metrics for ``dvc plots``. Wall-clock seconds are left out: the file stays
    identical when the run is (the same weights give the same history, hence the same dvc.lock)."""
    table = pd.DataFrame([vars(m) for m in history]).drop(columns="seconds")
    return table.to_csv(index=False, float_format="%.6g")


def dynamics_csv(epochs: list[dict[str, float]]) -> str:
    """The per-layer statistics, a row per epoch, layer and statistic (``epoch,layer,statistic,
    value``), for ``evaluate``'s dynamics.png; only the header when ``train.diagnostics`` is off."""
    rows = [
        (values["epoch"], *key.split("/")[1:], value)
        for values in epochs
        for key, value in values.items()
        if key.startswith("layers/")
    ]
    table = pd.DataFrame(rows, columns=["epoch", "layer", "statistic", "value"])
    return table.to_csv(index=False, float_format="%.6g")


def write_outputs(cfg: Config, network: sn.Network, history: list[sn.EpochMetrics]) -> None:
    """The weights to ``paths.model`` and the per-epoch history to ``paths.reports``: both or
    neither (a full disk keeps the last training's pair)."""
    with phases.timed("writing outputs"), all_or_nothing():
        with atomic_file(cfg.paths.model, what="the weights") as file:
            sn.save_weights(network, file)
        write_text(Path(cfg.paths.reports) / HISTORY_FILE, history_csv(history), "the history")


def train_tracked(
    cfg: Config,
    run: mlflow_runs.Run | None,
    echo: bool = True,
    checkpoint_file: Path | None = None,
    resume: checkpoint.Checkpoint | None = None,
) -> list[sn.EpochMetrics]:
    """Train, write the outputs, then log the weights: outputs are on disk before any upload,
    so a tracking failure after training loses nothing (it is reported as a warning)."""
    epoch_logger = mlflow_runs.EpochLogger(run)

    def on_epoch_end(metrics: sn.EpochMetrics) -> None:
        if echo:
            print(progress_line(metrics, cfg.train.epochs), flush=True)
        with phases.timed("tracking: logging epochs"):
            epoch_logger(metrics)

    if run is not None:
        with phases.timed("tracking: starting the run"):
            inputs = datasets.dataset_inputs(cfg.paths.prepared, dataset(cfg.data.name.value))
            run.attempt(lambda: run.log_inputs(inputs), "logging the datasets")
    run_id = run.run_id if run else None
    first_epoch = 1 + (resume.epoch if resume is not None else 0)
    bar = batch_progress(cfg.train.epochs, first_epoch) if echo else None

    dynamics: list[dict[str, float]] = []

    def log_metrics(values: dict[str, float], step: int) -> None:
        if run is not None:
            with phases.timed("tracking: logging epochs"):
                run.attempt(
                    lambda: run.log_metrics(values, step), f"logging metrics of step {step}"
                )

    network, history = train(
        cfg,
        on_epoch_end,
        checkpoint_file,
        resume,
        run_id,
        bar,
        log_metrics=log_metrics,
        dynamics_rows=dynamics,
    )
    with all_or_nothing():
        write_outputs(cfg, network, history)
        write_text(Path(cfg.paths.reports) / DYNAMICS_FILE, dynamics_csv(dynamics), "dynamics")
    if checkpoint_file is not None:
        checkpoint_file.unlink(missing_ok=True)
    mlflow_runs.write_run_file(Path(cfg.paths.reports) / RUN_FILE, run, cfg.tracking.experiment)
    if run is not None:
        with phases.timed("tracking: logging the model"):
            log_network(run, network, cfg)
    return history


def log_network(run: mlflow_runs.Run, network: sn.Network, cfg: Config) -> None:
    """The weights as a plain artifact (``model.npz``, what DVC tracks) and as an MLflow Model
    (``runs:/<id>/model``), and the architecture as tags."""
    run.attempt(lambda: run.set_tags(logged_model.architecture_tags(network)), "tagging the model")
    run.attempt(lambda: run.log_artifact(cfg.paths.model), "logging the weights")
    example = load_split(cfg.paths.prepared, "val")[0][:EXAMPLE_ROWS]

    def log() -> None:
        where = (run.client.tracking_uri, run.experiment_id, run.run_id)
        classes = list(dataset(cfg.data.name.value).classes)
        logged_model.log_model(*where, Path(cfg.paths.model), example, classes)

    run.attempt(log, "logging the MLflow Model")


def main() -> None:
    cfg = load_params()
    check_model(cfg)  # before any data is read or any run is made
    checkpoint_file = checkpoint.checkpoint_path(cfg)
    resumed = checkpoint.load(checkpoint_file, cfg)
    if resumed is not None and resumed.run_id and cfg.tracking.enabled:
        run = mlflow_runs.reopen_run(resumed.run_id, resumed.history)  # the killed run goes on
    else:
        with phases.timed("tracking: starting the run"):
            run = mlflow_runs.start_stage_run(cfg)
    with mlflow_runs.run_status(run):
        train_tracked(cfg, run, checkpoint_file=checkpoint_file, resume=resumed)
    print(f"train: weights -> {cfg.paths.model}")


if __name__ == "__main__":
    run_stage(main, takes_arguments=False)
