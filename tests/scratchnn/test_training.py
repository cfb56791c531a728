import numpy as np
import pytest

import scratchnn as sn
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


def tiny_images(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """6x6 images: the class is where the bright square is (top left, top right, bottom)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n)
    x = 0.1 * rng.random((n, 6, 6), dtype=np.float32)
    for image, label in zip(x, labels, strict=True):
        rows, cols = [
            (slice(0, 3), slice(0, 3)),
            (slice(0, 3), slice(3, 6)),
            (slice(3, 6), slice(1, 4)),
        ][label]
        image[rows, cols] += 1
    return x.reshape(n, 36), labels


def tiny_cnn(seed: int = 0) -> sn.Network:
    return sn.build_network(
        [
            {"type": "conv2d", "filters": 3, "kernel": 3, "padding": 1},
            {"type": "batchnorm"},
            {"type": "relu"},
            {"type": "maxpool2d", "pool": 2},
            {"type": "flatten"},
            {"type": "dropout", "rate": 0.3},
            {"type": "dense", "units": 3},
        ],
        input_shape=(6, 6, 1),
        rng=np.random.default_rng(seed),
    )


def fit_cnn(network, rng, epochs, start_epoch=0, optimizer=None, **kwargs):
    x, y = tiny_images()
    return fit(
        network,
        optimizer or Adam(),
        constant(0.01),
        x,
        y,
        epochs=epochs,
        batch_size=16,
        rng=rng,
        augment=sn.RandomShiftRotate(max_shift=1, max_degrees=10, side=6),
        start_epoch=start_epoch,
        **kwargs,
    )


def test_a_resumed_run_with_dropout_augmentation_and_batch_norm_is_bit_identical():
    straight = tiny_cnn()
    fit_cnn(straight, np.random.default_rng(5), epochs=3)
    # stop after epoch 1 and keep what a checkpoint keeps: params, state, optimiser, generator
    first, rng, optimizer = tiny_cnn(), np.random.default_rng(5), Adam()
    fit_cnn(first, rng, epochs=1, optimizer=optimizer)
    kept = (first.params.copy(), first.state.copy(), optimizer.state(), rng.bit_generator.state)
    resumed, resumed_rng, resumed_optimizer = tiny_cnn(seed=9), np.random.default_rng(0), Adam()
    resumed.params[...], resumed.state[...] = kept[0], kept[1]
    resumed_optimizer.load_state(kept[2])
    resumed_rng.bit_generator.state = kept[3]
    fit_cnn(resumed, resumed_rng, epochs=3, start_epoch=1, optimizer=resumed_optimizer)
    np.testing.assert_array_equal(resumed.params, straight.params)
    np.testing.assert_array_equal(resumed.state, straight.state)


def test_cnn_learns_and_reports_progress_after_every_batch():
    network = tiny_cnn()
    progress = []
    history = fit_cnn(
        network,
        np.random.default_rng(1),
        epochs=8,
        on_batch_end=lambda *p: progress.append(p),
        validation=tiny_images(32, seed=1),
    )
    assert progress[:5] == [(1, 4), (2, 4), (3, 4), (4, 4), (1, 4)] and len(progress) == 32
    assert history[-1].val_accuracy > 0.9


def test_augmentation_and_dropout_apply_in_training_only():
    calls = []

    def augment(xb, rng):
        calls.append(len(xb))
        return xb

    x, y = tiny_images(40)
    network = tiny_cnn()
    fit(
        network,
        SGD(),
        constant(0.01),
        x,
        y,
        epochs=1,
        batch_size=16,
        rng=np.random.default_rng(0),
        augment=augment,
        validation=(x, y),
    )
    assert calls == [16, 16, 8]  # the training batches, not the validation set
    _, _, predicted = sn.evaluate(network, x, y)
    np.testing.assert_array_equal(predicted, sn.evaluate(network, x, y)[2])  # no randomness
    np.testing.assert_array_equal(predicted, network.predict(x))


def test_weight_decay_never_touches_the_batch_norm_state():
    x, y = tiny_images(32)
    states = []
    for wd in (0.0, 0.5):
        network = tiny_cnn()
        fit(
            network,
            SGD(),
            constant(0.0),
            x,
            y,
            epochs=1,
            batch_size=16,
            rng=np.random.default_rng(0),
            weight_decay=wd,
        )
        states.append(network.state.copy())
    assert states[0].any()  # the running statistics moved, by the batches alone
    np.testing.assert_array_equal(states[0], states[1])
