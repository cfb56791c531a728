"""Metrics and the loss on labels: values checked by hand, and bad labels refused by name."""

import numpy as np
import pytest

import scratchnn as sn
from scratchnn import SoftmaxCrossEntropy

# three classes, six images, worked out by hand:
#   true 0 0 0 1 1 2
#   pred 0 0 1 1 2 2
LABELS = np.array([0, 0, 0, 1, 1, 2])
PREDICTED = np.array([0, 0, 1, 1, 2, 2])
BY_HAND = np.array(
    [
        [2, 1, 0],  # true 0: twice right, once taken for 1
        [0, 1, 1],  # true 1: once right, once taken for 2
        [0, 0, 1],  # true 2: right
    ]
)


def test_confusion_matrix_rows_are_true_labels_columns_predictions():
    confusion = sn.confusion_matrix(LABELS, PREDICTED, 3)
    np.testing.assert_array_equal(confusion, BY_HAND)
    loop = np.zeros((3, 3), dtype=np.int64)
    for true, guess in zip(LABELS, PREDICTED, strict=True):
        loop[true, guess] += 1
    np.testing.assert_array_equal(confusion, loop)


@pytest.mark.parametrize("bad", [-1, 3, 99])
def test_confusion_matrix_refuses_labels_outside_the_classes(bad):
    """-1 used to be counted in another cell, 3 of 3 classes in the next row."""
    labels = LABELS.copy()
    labels[4] = bad
    with pytest.raises(ValueError, match=rf"confusion_matrix \(labels\): label {bad} \(row 4\)"):
        sn.confusion_matrix(labels, PREDICTED, 3)
    with pytest.raises(ValueError, match=rf"\(predicted\): label {bad} \(row 4\)"):
        sn.confusion_matrix(PREDICTED, labels, 3)


def test_metrics_refuse_rows_of_different_lengths_and_float_labels():
    with pytest.raises(ValueError, match="accuracy: predicted"):
        sn.accuracy(PREDICTED[:5], LABELS)  # broadcasting (5,) against (6,) fails anyway...
    with pytest.raises(ValueError, match="accuracy: predicted"):
        sn.accuracy(PREDICTED[:, None], LABELS)  # ...but (6, 1) against (6,) made a 6x6 table
    with pytest.raises(ValueError, match="labels must be integers, not float64"):
        sn.confusion_matrix(LABELS.astype(np.float64), PREDICTED, 3)


@pytest.mark.parametrize("bad", [-1, 4])
def test_the_loss_refuses_a_label_outside_the_classes(bad):
    """A label -1 silently took the last class's probability."""
    z = np.zeros((3, 4))
    with pytest.raises(ValueError, match=rf"SoftmaxCrossEntropy.forward: label {bad} \(row 1\)"):
        SoftmaxCrossEntropy(4, np.float64).forward(z, np.array([0, bad, 2]))


def test_a_float32_network_computes_float64_inputs_in_float32():
    network = sn.mlp([7, 5, 3], rng=np.random.default_rng(0))  # float32
    x = np.random.default_rng(1).standard_normal((4, 7))
    expected = network.forward(x.astype(np.float32)).copy()
    got = network.forward(x)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)  # bit for bit: the input cast first
