"""Stage ``evaluate``: accuracy and loss on the test set, per-class scores, the confusion matrix.

When the test CSV has no labels (Kaggle's test.csv), the report is on the validation split, and
says so. Writes ``metrics.json`` (for ``dvc metrics``), ``predictions.csv`` (actual, predicted:
for DVC's confusion plot), ``classes.csv`` and ``report.md``, and prints the report.
"""

from pathlib import Path

import numpy as np
import pandas as pd

import scratchnn as sn
from pipeline.cli import run_stage
from pipeline.config import Config, load_params
from pipeline.digits_csv import N_CLASSES
from pipeline.io import write_json, write_text
from pipeline.prepare import load_split

METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.csv"
CLASSES_FILE = "classes.csv"
REPORT_FILE = "report.md"


def per_class_scores(confusion: np.ndarray) -> pd.DataFrame:
    """Precision, recall, F1 and support per class from a confusion matrix (rows = true)."""
    true_positives = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, true_positives / predicted, 0.0)
        recall = np.where(support > 0, true_positives / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return pd.DataFrame(
        {
            "digit": np.arange(len(confusion)),
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
) -> str:
    lines = [f"# Evaluation on the {split} split", ""]
    if note:
        lines += [note, ""]
    lines += [f"accuracy **{acc:.2%}** ({round(acc * n):,} of {n:,} images), loss {loss:.4f}", ""]
    lines += ["| digit | precision | recall | F1 | support |", "|---:|---:|---:|---:|---:|"]
    lines += [
        f"| {r.digit} | {r.precision:.2%} | {r.recall:.2%} | {r.f1:.4f} | {r.support} |"
        for r in classes.itertuples()
    ]
    header = "| true \\ predicted | " + " | ".join(map(str, range(len(confusion)))) + " |"
    lines += [
        "",
        "Confusion matrix (rows: true digit, columns: predicted):",
        "",
        header,
        "|---:" * (len(confusion) + 1) + "|",
    ]
    lines += [f"| **{i}** | " + " | ".join(map(str, row)) + " |" for i, row in enumerate(confusion)]
    return "\n".join(lines) + "\n"


def evaluate(cfg: Config) -> tuple[dict, str]:
    """Evaluate ``paths.model``; write the reports; return the metrics and the Markdown report."""
    network = sn.load_weights(cfg.paths.model, dtype=np.dtype(cfg.dtype.value))
    x_val, y_val = load_split(cfg.paths.prepared, "val")
    x_test, y_test = load_split(cfg.paths.prepared, "test")
    assert y_val is not None
    metrics: dict = {}
    val_loss, val_acc, val_pred = sn.evaluate(network, x_val, y_val)
    metrics["val"] = {"accuracy": val_acc, "loss": val_loss, "n": len(y_val)}
    if y_test is not None:
        split, note, labels = "test", "", y_test
        loss, acc, predicted = sn.evaluate(network, x_test, y_test)
        metrics["test"] = {"accuracy": acc, "loss": loss, "n": len(y_test)}
    else:
        split, labels, loss, acc, predicted = "validation", y_val, val_loss, val_acc, val_pred
        note = (
            f"The test CSV ({cfg.data.test_csv}) has no labels, so this report is on the "
            "validation split."
        )
    metrics["evaluated_on"] = split
    confusion = sn.confusion_matrix(labels, predicted, N_CLASSES)
    classes = per_class_scores(confusion)
    report = markdown_report(split, note, loss, acc, len(labels), classes, confusion)
    reports = Path(cfg.paths.reports)
    write_json(reports / METRICS_FILE, metrics)
    write_text(
        reports / PREDICTIONS_FILE,
        pd.DataFrame({"actual": labels, "predicted": predicted}).to_csv(index=False),
    )
    write_text(reports / CLASSES_FILE, classes.to_csv(index=False, float_format="%.6f"))
    write_text(reports / REPORT_FILE, report)
    return metrics, report


def main() -> None:
    _, report = evaluate(load_params())
    print(report, end="")


if __name__ == "__main__":
    run_stage(main)
