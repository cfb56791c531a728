"""The training loop: epochs of (mini-)batch gradient descent, reporting after each epoch."""

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from scratchnn.buffers import RowBuffer
from scratchnn.losses import SoftmaxCrossEntropy
from scratchnn.network import Network
from scratchnn.optimizers import Optimizer
from scratchnn.schedules import Schedule

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]  # (batch rows, rng) -> rows


@dataclass(frozen=True)
class EpochMetrics:
    """What one epoch did. ``epoch`` counts completed epochs (1, 2, ...); ``lr`` is the rate
    used during it, ``schedule(epoch - 1)``. Train loss/accuracy average over the epoch's batches
    (the network moves during the epoch); validation ones are measured after it."""

    epoch: int
    lr: float
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    seconds: float


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite."""

    def __init__(self, epoch: int, loss: float) -> None:
        self.epoch = epoch
        self.loss = loss
        super().__init__(
            f"training diverged in epoch {epoch}: the loss is {loss}; try a smaller learning rate"
        )


def batches(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int | None,
    rng: np.random.Generator,
    buffer: RowBuffer,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch of ``(x_batch, y_batch)``: (batch, n_in) rows and their (batch,) labels.

    ``batch_size=None`` is full batch: ``x`` and ``y`` themselves, once. Otherwise one
    permutation per epoch, the labels gathered once along it, and each batch's rows gathered
    into ``buffer``: reused, small enough to stay in the CPU cache until the first matrix
    product reads it (gathering all of ``x`` at once would write and read 4 bytes per pixel of
    the whole training set through main memory, and hold a second copy of it).
    """
    if batch_size is None:
        yield x, y
        return
    order = rng.permutation(len(x))
    y_shuffled = y[order]
    for start in range(0, len(x), batch_size):
        rows = order[start : start + batch_size]
        # mode="clip": rows of a permutation are always valid, and the default mode ("raise")
        # would gather into a temporary first, so as to leave ``out`` untouched on a bad index
        x_batch = x.take(rows, axis=0, out=buffer.take(len(rows)), mode="clip")
        yield x_batch, y_shuffled[start : start + batch_size]


def clip_by_global_norm(grads: np.ndarray, max_norm: float) -> float:
    """Scale ``grads`` (the network's flat gradient) in place so that its norm, taken over every
    parameter at once, is at most ``max_norm``; return the norm it had. The direction stays;
    one exploding layer (a recurrent one, through time) shrinks the whole step, not its own."""
    norm = math.sqrt(float(np.dot(grads, grads)))
    if norm > max_norm:
        grads *= max_norm / norm
    return norm


def fit(
    network: Network,
    optimizer: Optimizer,
    schedule: Schedule,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int | None,
    rng: np.random.Generator,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    weight_decay: float = 0.0,
    on_epoch_end: Callable[[EpochMetrics], None] | None = None,
    start_epoch: int = 0,
    augment: Augment | None = None,
    on_batch_end: Callable[[int, int], None] | None = None,
    clip_norm: float | None = None,
) -> list[EpochMetrics]:
    """Train ``network`` on ``x`` (n, n_in) with integer labels ``y`` (n,), in training mode.

    ``batch_size=None`` means full batch: every step uses all rows, in their given order (the
    original recipe). Otherwise rows are reshuffled with ``rng`` every epoch and the last batch
    may be shorter. ``weight_decay`` adds an L2 term ``weight_decay/2 * |params|^2`` to the
    loss (to its gradient; reported losses leave it out; only ``params`` decay, never the
    ``state``). ``clip_norm`` scales each step's whole gradient (that term included) down to
    that global norm when it is larger (``clip_by_global_norm``); None never touches it.
    ``start_epoch`` skips the epochs a checkpoint already did.

    Everything random comes from ``rng``, in a fixed order: each epoch's permutation, then per
    batch the draws of ``augment(x_batch, rng)`` (training batches only; it returns the moved
    rows, e.g. ``RandomShiftRotate``) and the dropout masks. Restoring ``rng``'s state at an
    epoch's end therefore resumes a run bit for bit. ``on_batch_end(done, total)`` is called
    after each step with the batches done in this epoch and the epoch's number of batches.
    """
    if clip_norm is not None and not clip_norm > 0:
        raise ValueError(f"clip_norm={clip_norm!r}: a norm to clip to must be > 0 (or None)")
    loss_fn = SoftmaxCrossEntropy(network.n_outputs, network.dtype)
    if batch_size is not None:
        batch_size = min(batch_size, len(x))
    n_batches = 1 if batch_size is None else math.ceil(len(x) / batch_size)
    x_batch_buffer = RowBuffer(x.shape[1:], x.dtype)
    decay_term = np.empty_like(network.params) if weight_decay else None
    history = []
    for epoch in range(start_epoch, epochs):
        started = time.perf_counter()
        lr = schedule(epoch)
        loss_sum = 0.0
        correct = 0
        for done, (xb, yb) in enumerate(batches(x, y, batch_size, rng, x_batch_buffer), 1):
            if augment is not None:
                xb = augment(xb, rng)
            logits = network.forward(xb, training=True, rng=rng)
            loss = loss_fn.forward(logits, yb)
            if not math.isfinite(loss):
                raise TrainingDiverged(epoch + 1, loss)
            loss_sum += loss * len(yb)
            correct += int(np.count_nonzero(loss_fn.p.argmax(axis=1) == yb))
            network.backward(loss_fn.backward())
            if decay_term is not None:  # d/dθ of weight_decay/2 * |θ|^2
                np.multiply(network.params, weight_decay, out=decay_term)
                network.grads += decay_term
            if clip_norm is not None:
                clip_by_global_norm(network.grads, clip_norm)
            optimizer.step(network.params, network.grads, lr)
            if on_batch_end is not None:
                on_batch_end(done, n_batches)
        val_loss = val_accuracy = None
        if validation is not None:
            val_loss, val_accuracy, _ = evaluate(network, *validation)
        # The clipped batch losses stay finite while the weights run off to inf in a last step:
        # catch that here, before anyone saves those weights.
        if val_loss is not None and not math.isfinite(val_loss):
            raise TrainingDiverged(epoch + 1, val_loss)
        if not np.isfinite(network.params).all():
            raise TrainingDiverged(epoch + 1, math.nan)
        metrics = EpochMetrics(
            epoch=epoch + 1,
            lr=lr,
            train_loss=loss_sum / len(x),
            train_accuracy=correct / len(x),
            val_loss=val_loss,
            val_accuracy=val_accuracy,
            seconds=time.perf_counter() - started,
        )
        history.append(metrics)
        if on_epoch_end is not None:
            on_epoch_end(metrics)
    return history


def evaluate(
    network: Network, x: np.ndarray, y: np.ndarray, chunk_size: int = 8192
) -> tuple[float, float, np.ndarray]:
    """Mean loss, accuracy and the predicted labels (n,) of ``network`` on ``x``, ``y``, in
    evaluation mode (no dropout; batch norm's running statistics)."""
    loss_fn = SoftmaxCrossEntropy(network.n_outputs, network.dtype)
    predicted = np.empty(len(x), dtype=np.int64)
    loss_sum = 0.0
    for start in range(0, len(x), chunk_size):
        stop = min(start + chunk_size, len(x))
        loss_sum += loss_fn.forward(
            network.forward(x[start:stop], training=False), y[start:stop]
        ) * (stop - start)
        predicted[start:stop] = np.argmax(loss_fn.p, axis=1)
    return loss_sum / len(x), float(np.mean(predicted == y)), predicted
