"""evaluate's per-class table against values worked out by hand and a plain loop: a transposed
confusion matrix (which swaps precision and recall) fails here."""

import numpy as np
import pandas as pd

from pipeline.data.catalog import MNIST
from pipeline.stages.evaluate import per_class_scores

# rows = true class, columns = predicted (tests/scratchnn/test_metrics.py builds it from labels)
CONFUSION = np.array([[2, 1, 0], [0, 1, 1], [0, 0, 1]])


def loop_scores(confusion: np.ndarray) -> list[tuple[float, float, float, int]]:
    """Precision, recall, F1 and support by their definitions, one class at a time."""
    scores = []
    n = len(confusion)
    for c in range(n):
        right = confusion[c][c]
        said_c = sum(confusion[t][c] for t in range(n))  # every image predicted as c
        were_c = sum(confusion[c][p] for p in range(n))  # every image whose label is c
        precision = right / said_c if said_c else 0.0
        recall = right / were_c if were_c else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores.append((precision, recall, f1, were_c))
    return scores


def test_per_class_scores_by_hand():
    table = per_class_scores(CONFUSION, MNIST.classes)
    # class 0: predicted 0 twice, both right (precision 1); 3 images, 2 found (recall 2/3)
    # class 1: predicted twice, once right (1/2); 2 images, 1 found (1/2)
    # class 2: predicted twice, once right (1/2); 1 image, found (1)
    expected = pd.DataFrame(
        {
            "class": list(MNIST.classes[:3]),
            "precision": [1.0, 0.5, 0.5],
            "recall": [2 / 3, 0.5, 1.0],
            "f1": [0.8, 0.5, 2 / 3],
            "support": [3, 2, 1],
        }
    )
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)


def test_per_class_scores_match_the_definitions_on_random_matrices():
    rng = np.random.default_rng(0)
    for _ in range(20):
        confusion = rng.integers(0, 5, size=(10, 10))
        confusion[rng.integers(10)] = 0  # a class with no images
        confusion[:, rng.integers(10)] = 0  # a class never predicted
        table = per_class_scores(confusion, MNIST.classes)
        got = table[["precision", "recall", "f1", "support"]].to_numpy()
        np.testing.assert_allclose(got, np.array(loop_scores(confusion)), rtol=1e-12)
