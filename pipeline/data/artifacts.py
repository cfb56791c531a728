"""What the stages hand each other: the files' names, and reading the prepared splits.

``prepare`` writes the splits, ``train`` the model and its history, ``evaluate`` the reports;
whoever reads them next finds their names and readers here, so no stage imports another.
Reading a model is ``pipeline.network.models`` (it needs the network library; this module does not).
"""

from pathlib import Path

import numpy as np

N_PIXELS = 28 * 28  # an image is a row of 784 pixels, 28 rows of 28
N_CLASSES = 10  # the digits 0..9
SPLITS = ("train", "val", "test")
INFO_FILE = "info.json"  # in the prepared folder: row and label counts, sources, settings

# train -> evaluate (in paths.reports)
HISTORY_FILE = "history.csv"
RUN_FILE = "run.json"  # which MLflow run the training was; evaluate logs into it
DYNAMICS_FILE = "dynamics.csv"  # per-layer statistics per epoch (train.diagnostics)

# evaluate (in paths.reports)
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.csv"
CLASSES_FILE = "classes.csv"
REPORT_FILE = "report.md"
CONFUSION_PNG = "confusion.png"
MISCLASSIFIED_PNG = "misclassified.png"
CURVES_PNG = "training_curves.png"
FIRST_LAYER_PNG = "first_layer.png"  # what the first layer learned
ACTIVATIONS_PNG = "activations.png"  # one test digit through every layer
DYNAMICS_PNG = "dynamics.png"  # the per-layer statistics across epochs

# predict (in paths.reports)
SUBMISSION_FILE = "submission.csv"


def load_split(prepared: str | Path, split: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``(x, y)`` of one split; ``y`` is None for an unlabelled test split."""
    folder = Path(prepared)
    labels = folder / f"{split}_y.npy"
    y = np.load(labels, allow_pickle=False) if labels.exists() else None
    return np.load(folder / f"{split}_x.npy", allow_pickle=False), y
