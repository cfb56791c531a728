import numpy as np
import pytest

from scratchnn import SGD, Adam, SoftmaxCrossEntropy, TrainingDiverged, constant, fit, mlp
from scratchnn.buffers import RowBuffer
from scratchnn.training import batches


def blobs(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated Gaussian blobs in 4-D."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n)
    centres = 3 * np.eye(3, 4)
    return (centres[labels] + 0.5 * rng.standard_normal((n, 4))).astype(np.float32), labels


def train_once(seed: int, batch_size: int | None = 16, dtype=np.float32) -> np.ndarray:
    x, y = blobs()
    network = mlp([4, 8, 3], rng=np.random.default_rng(seed), dtype=dtype)
    fit(
        network,
        Adam(),
        constant(0.01),
        x.astype(dtype),
        y,
        epochs=3,
        batch_size=batch_size,
        rng=np.random.default_rng([seed, 1]),
    )
    return network.params.copy()


def test_same_seed_gives_bit_identical_weights():
    assert np.array_equal(train_once(7), train_once(7))
    assert np.array_equal(train_once(7, dtype=np.float64), train_once(7, dtype=np.float64))
    assert not np.array_equal(train_once(7), train_once(8))


def test_full_batch_epoch_is_one_gradient_descent_step_on_all_rows():
    x, y = blobs(50)
    x = x.astype(np.float64)
    network = mlp([4, 5, 3], rng=np.random.default_rng(0), dtype=np.float64)
    reference = mlp([4, 5, 3], rng=np.random.default_rng(0), dtype=np.float64)
    history = fit(
        network, SGD(), constant(0.1), x, y, epochs=1, batch_size=None, rng=np.random.default_rng(0)
    )
    loss_fn = SoftmaxCrossEntropy(3, np.float64)
    loss = loss_fn.forward(reference.forward(x), y)
    reference.backward(loss_fn.backward())
    np.testing.assert_array_equal(network.params, reference.params - 0.1 * reference.grads)
    assert history[0].train_loss == pytest.approx(loss)  # the loss before the step, as reported


def test_weight_decay_adds_l2_gradient():
    x, y = blobs(40)
    x = x.astype(np.float64)
    plain = mlp([4, 5, 3], rng=np.random.default_rng(0), dtype=np.float64)
    decayed = mlp([4, 5, 3], rng=np.random.default_rng(0), dtype=np.float64)
    start = plain.params.copy()
    for network, wd in ((plain, 0.0), (decayed, 0.01)):
        fit(
            network,
            SGD(),
            constant(0.1),
            x,
            y,
            epochs=1,
            batch_size=None,
            rng=np.random.default_rng(0),
            weight_decay=wd,
        )
    # one step: decayed = plain - lr * wd * start
    np.testing.assert_allclose(decayed.params, plain.params - 0.1 * 0.01 * start, atol=1e-15)


def test_learns_separable_data_and_reports_every_epoch():
    x, y = blobs()
    network = mlp([4, 8, 3], rng=np.random.default_rng(0))
    seen = []
    history = fit(
        network,
        Adam(),
        constant(0.01),
        x,
        y,
        epochs=20,
        batch_size=32,
        rng=np.random.default_rng(1),
        validation=(x[:50], y[:50]),
        on_epoch_end=seen.append,
    )
    assert seen == history and [m.epoch for m in history] == list(range(1, 21))
    assert history[-1].train_accuracy > 0.95 and history[-1].val_accuracy > 0.95
    assert history[-1].train_loss < history[0].train_loss


def test_divergence_stops_with_the_epoch_named():
    x, y = blobs()
    network = mlp([4, 8, 3], rng=np.random.default_rng(0))
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match="epoch 1") as caught:
        fit(
            network,
            SGD(),
            constant(1e30),
            x,
            y,
            epochs=5,
            batch_size=32,
            rng=np.random.default_rng(0),
        )
    assert caught.value.epoch == 1


def test_short_last_batch_is_a_step_of_its_own():
    x, y = blobs(35)
    network = mlp([4, 8, 3], rng=np.random.default_rng(0))
    optimizer = Adam()
    fit(
        network,
        optimizer,
        constant(0.01),
        x,
        y,
        epochs=2,
        batch_size=16,
        rng=np.random.default_rng(0),
    )
    assert optimizer.t == 2 * 3  # 16 + 16 + 3 rows per epoch


def test_batches_cover_every_row_once_with_matching_labels():
    x = np.arange(70, dtype=np.float32).reshape(35, 2)
    y = np.arange(35)
    seen = [
        (xb.copy(), yb.copy())
        for xb, yb in batches(x, y, 16, np.random.default_rng(0), RowBuffer(2, np.float32))
    ]
    assert [len(yb) for _, yb in seen] == [16, 16, 3]
    rows = np.concatenate([yb for _, yb in seen])
    np.testing.assert_array_equal(np.sort(rows), y)  # a permutation of all rows
    assert not np.array_equal(rows, y)
    for xb, yb in seen:
        np.testing.assert_array_equal(xb, x[yb])  # each row kept its label


def test_full_batch_is_the_data_itself_in_order():
    x, y = blobs(20)
    ((xb, yb),) = batches(x, y, None, np.random.default_rng(0), RowBuffer(4, np.float32))
    assert xb is x and yb is y


class ExplodesOnStep(SGD):
    """Plain SGD, except that step ``n`` sends one weight to infinity."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n, self.steps = n, 0

    def step(self, params, grads, lr):
        super().step(params, grads, lr)
        self.steps += 1
        if self.steps == self.n:
            params[0] = np.inf


@pytest.mark.parametrize("with_validation", [True, False])
def test_weights_that_blow_up_in_an_epochs_last_step_stop_training(with_validation):
    x, y = blobs(300)
    network = mlp([4, 8, 3], rng=np.random.default_rng(0))
    validation = (x[:50], y[:50]) if with_validation else None
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match="epoch 1"):
        fit(
            network,
            ExplodesOnStep(3),
            constant(0.01),
            x,
            y,
            epochs=3,
            batch_size=100,
            rng=np.random.default_rng(0),
            validation=validation,
        )
