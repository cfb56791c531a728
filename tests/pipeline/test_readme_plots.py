"""docs/pipeline.md, "Reports": what the figures show, as the table says."""

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm

from pipeline.figures import plots


def test_confusion_colours_are_on_a_log_scale():
    """docs/pipeline.md: "colours on a log scale, so the handful of mistakes per cell shows beside
    the ~1,000 correct ones": a cell of 3 is visibly coloured when the diagonal holds 1,000."""
    confusion = np.diag([1000] * 10)
    confusion[4, 9] = 3
    (ax,) = plots.confusion_figure(confusion, "c").axes[:1]
    image = ax.images[0]
    assert isinstance(image.norm, LogNorm)
    assert image.norm(3) > 0.1  # on a linear scale 3/1000 would be white


def test_at_most_24_mistakes_each_titled_with_its_row():
    """docs/pipeline.md: "the 24 test images the model got wrong with the highest confidence, each
    titled `true 4 → 9`, the probability it gave, and the row's index in the split"."""
    rng = np.random.default_rng(0)
    n = 60
    labels = np.zeros(n, dtype=int)
    probabilities = np.full((n, 10), 0.01)
    confidence = rng.uniform(0.2, 0.9, n)
    probabilities[:, 9] = confidence  # every image read as a 9 that is a 0
    figure = plots.misclassified_figure(rng.random((n, 784)), labels, probabilities, "m")
    titles = [text.get_text() for text in figure.axes[0].texts]
    assert len(titles) == 24
    expected = np.argsort(-confidence, kind="stable")[:24]
    for title, row in zip(titles, expected, strict=True):
        assert title == f"true 0 → 9\n{confidence[row]:.1%}  #{row}"


def test_the_loss_axis_is_logarithmic():
    history = pd.DataFrame(
        {
            "epoch": [1, 2],
            "lr": [0.1, 0.05],
            "train_loss": [1.0, 0.01],
            "train_accuracy": [0.5, 0.99],
            "val_loss": [1.1, 0.02],
            "val_accuracy": [0.45, 0.98],
        }
    )
    loss, accuracy, _ = plots.training_curves_figure(history, "curves").axes
    assert loss.get_yscale() == "log" and accuracy.get_yscale() == "linear"
