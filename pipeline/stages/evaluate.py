"""Stage ``evaluate``: accuracy and loss on the test set, per-class scores, the confusion matrix.

When the test CSV has no labels (Kaggle's test.csv), the report is on the validation split, and
says so. Writes into ``paths.reports``: ``metrics.json`` (for ``dvc metrics``),
``predictions.csv`` (actual, predicted: for DVC's confusion plot), ``classes.csv`` and
``report.md``, and six figures: ``confusion.png``, ``misclassified.png`` (the most confidently
wrong images), ``training_curves.png`` (from train's ``history.csv``), ``first_layer.png`` (the
first layer's weights), ``activations.png`` (one image through every layer) and
``dynamics.png`` (each layer's statistics across epochs, from train's ``dynamics.csv``).
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

import scratchnn as sn
from pipeline import phases
from pipeline.cli import run_stage
from pipeline.config import Config, load_params
from pipeline.data.artifacts import (
    ACTIVATIONS_PNG,
    CLASSES_FILE,
    CONFUSION_PNG,
    CURVES_PNG,
    DYNAMICS_FILE,
    DYNAMICS_PNG,
    FIRST_LAYER_PNG,
    HISTORY_FILE,
    METRICS_FILE,
    MISCLASSIFIED_PNG,
    N_CLASSES,
    PREDICTIONS_FILE,
    REPORT_FILE,
    RUN_FILE,
    load_split,
)
from pipeline.data.catalog import MNIST, Dataset, dataset
from pipeline.io import all_or_nothing, write_json, write_text
from pipeline.network.models import load_model, probabilities
from pipeline.tracking import mlflow_runs
from pipeline.tracking.evaluation_log import EvaluationLog


def per_class_scores(confusion: np.ndarray, classes: Sequence[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support per class from a confusion matrix (rows = true), each
    row named by ``classes``."""
    true_positives = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, true_positives / predicted, 0.0)
        recall = np.where(support > 0, true_positives / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return pd.DataFrame(
        {
            "class": list(classes[: len(confusion)]),
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support,
        }
    )


def markdown_report(
    split: str,
    note: str,
    loss: float,
    acc: float,
    n: int,
    classes: pd.DataFrame,
    confusion: np.ndarray,
    figures: Sequence[tuple[str, str]] = (),
    data: Dataset = MNIST,
) -> str:
    """The report: accuracy, per-class table, confusion matrix, and links to ``figures``
    (``(title, file name)`` pairs, relative to the report's folder); ``data`` names the classes
    (MNIST's report says nothing of its dataset, as before there were others)."""
    of = "" if data is MNIST else f" of {data.title}"
    lines = [f"# Evaluation on the {split} split{of}", ""]
    if note:
        lines += [note, ""]
    lines += [f"accuracy **{acc:.2%}** ({round(acc * n):,} of {n:,} images), loss {loss:.4f}", ""]
    noun, names = data.noun, data.classes
    lines += [f"| {noun} | precision | recall | F1 | support |", "|---:|---:|---:|---:|---:|"]
    lines += [
        f"| {name} | {r.precision:.2%} | {r.recall:.2%} | {r.f1:.4f} | {r.support} |"
        for name, r in zip(classes["class"], classes.itertuples(), strict=True)
    ]
    header = "| true \\ predicted | " + " | ".join(names[: len(confusion)]) + " |"
    lines += [
        "",
        f"Confusion matrix (rows: true {noun}, columns: predicted):",
        "",
        header,
        "|---:" * (len(confusion) + 1) + "|",
    ]
    lines += [
        f"| **{name}** | " + " | ".join(map(str, row)) + " |"
        for name, row in zip(names, confusion, strict=False)
    ]
    if figures:
        lines += ["", "Figures:", ""]
        lines += [f"![{title}]({name})" for title, name in figures]
    return "\n".join(lines) + "\n"


def write_figures(
    reports: Path,
    split: str,
    x: np.ndarray,
    labels: np.ndarray,
    probs: np.ndarray,
    confusion: np.ndarray,
    network: sn.Network,
    data: Dataset = MNIST,
) -> list[tuple[str, str]]:
    """The PNGs into ``reports``; returns ``(title, file name)`` of each one written.

    The training curves need train's ``history.csv`` in the same folder; without it (weights
    that were not trained here) that figure is skipped and any old one removed."""
    from pipeline.figures import dynamics, learned, plots  # matplotlib (0.7 s) loads late

    figures = [
        (f"Confusion matrix ({split} split)", CONFUSION_PNG),
        (f"Most confidently misclassified ({split} split)", MISCLASSIFIED_PNG),
    ]
    plots.save_png(plots.confusion_figure(confusion, figures[0][0], data), reports / CONFUSION_PNG)
    mistakes = f"{figures[1][0]}: true → predicted"
    plots.save_png(
        plots.misclassified_figure(x, labels, probs, mistakes, dataset=data),
        reports / MISCLASSIFIED_PNG,
    )
    figures.append(("What the first layer learned", FIRST_LAYER_PNG))
    plots.save_png(learned.first_layer_figure(network), reports / FIRST_LAYER_PNG)
    figures.append((f"The first {split} image through every layer", ACTIVATIONS_PNG))
    plots.save_png(
        learned.activations_figure(network, x[0], int(labels[0]), data), reports / ACTIVATIONS_PNG
    )
    history = reports / HISTORY_FILE
    if history.is_file():
        figures.append(("Training curves", CURVES_PNG))
        plots.save_png(
            plots.training_curves_figure(pd.read_csv(history), "Training curves"),
            reports / CURVES_PNG,
        )
    else:
        (reports / CURVES_PNG).unlink(missing_ok=True)
    if (reports / DYNAMICS_FILE).is_file():
        figures.append(("Inside each layer, as it trained", DYNAMICS_PNG))
        table = pd.read_csv(reports / DYNAMICS_FILE)
        plots.save_png(dynamics.dynamics_figure(table, figures[-1][0]), reports / DYNAMICS_PNG)
    else:
        (reports / DYNAMICS_PNG).unlink(missing_ok=True)
    return figures


def evaluate(cfg: Config, network: sn.Network | None = None) -> tuple[dict, str]:
    """Evaluate ``network`` (by default ``paths.model`` in ``dtype``) on ``paths.prepared``;
    write the reports into ``paths.reports``; return the metrics and the Markdown report.

    The data is cast to the network's dtype: float64 weights (the original script's) run in
    float64 on float32-prepared data too."""
    with phases.timed("data loading"):
        if network is None:
            network = load_model(cfg.paths.model, dtype=np.dtype(cfg.dtype.value))
        x_val, y_val = load_split(cfg.paths.prepared, "val")
        x_test, y_test = load_split(cfg.paths.prepared, "test")
    assert y_val is not None
    x_val, x_test = (x.astype(network.dtype, copy=False) for x in (x_val, x_test))
    metrics: dict = {}
    val_loss, val_acc, val_pred = sn.evaluate(network, x_val, y_val)
    metrics["val"] = {"accuracy": val_acc, "loss": val_loss, "n": len(y_val)}
    if y_test is not None:
        split, note, x, labels = "test", "", x_test, y_test
        loss, acc, predicted = sn.evaluate(network, x_test, y_test)
        metrics["test"] = {"accuracy": acc, "loss": loss, "n": len(y_test)}
    else:
        split, x, labels, loss, acc, predicted = (
            "validation",
            x_val,
            y_val,
            val_loss,
            val_acc,
            val_pred,
        )
        note = (
            f"The test CSV ({cfg.data.test_csv}) has no labels, so this report is on the "
            "validation split."
        )
    metrics["evaluated_on"] = split
    data = dataset(cfg.data.name.value)
    confusion = sn.confusion_matrix(labels, predicted, N_CLASSES)
    classes = per_class_scores(confusion, data.classes)
    reports = Path(cfg.paths.reports)
    probs = probabilities(network, x)
    with all_or_nothing():  # every report of this evaluation, or (a full disk) the last ones
        with phases.timed("figures"):
            figures = write_figures(reports, split, x, labels, probs, confusion, network, data)
        report = markdown_report(
            split, note, loss, acc, len(labels), classes, confusion, figures, data
        )
        write_reports(reports, metrics, labels, predicted, classes, report)
    return metrics, report


def write_reports(
    reports: Path,
    metrics: dict,
    labels: np.ndarray,
    predicted: np.ndarray,
    classes: pd.DataFrame,
    report: str,
) -> None:
    with phases.timed("writing outputs"):
        write_json(reports / METRICS_FILE, metrics)
        predictions = pd.DataFrame({"actual": labels, "predicted": predicted})
        write_text(reports / PREDICTIONS_FILE, predictions.to_csv(index=False))
        write_text(reports / CLASSES_FILE, classes.to_csv(index=False, float_format="%.6f"))
        write_text(reports / REPORT_FILE, report)


def main() -> None:
    cfg = load_params()
    run_id = mlflow_runs.read_run_file(Path(cfg.paths.reports) / RUN_FILE)
    if not (cfg.tracking.enabled and run_id):
        metrics, report = evaluate(cfg)
        print(report, end="")
        return
    with EvaluationLog(run_id) as log:  # opens the run on the other core meanwhile
        metrics, report = evaluate(cfg)
        print(report, end="", flush=True)
        # the reports are written: a tracking failure only warns
        log.send(metrics, cfg.paths.reports, step=cfg.train.epochs)


if __name__ == "__main__":
    run_stage(main, takes_arguments=False)
