"""The checks experienced people run before trusting a training run (Karpathy's "A Recipe for
Training Neural Networks"; CS231n's notes on babysitting the learning process).

1. The initial loss. An untrained network whose weights are small gives every class about the
   same probability, 1/C, so its cross-entropy is -ln(1/C) = ln C (2.30 for ten classes). Much
   more means the first logits are large and confidently wrong (the initial scale); much less,
   before any training, means the answer leaks into the input or the loss is not what it seems.
2. Overfitting one small batch. A network with enough parameters must be able to memorise a
   handful of images: if it cannot, the gradients are wrong, the learning rate is too small, or
   the labels do not belong to the images.
"""

import math
from dataclasses import dataclass

import numpy as np

from scratchnn.losses import SoftmaxCrossEntropy
from scratchnn.network import Network
from scratchnn.optimizers import Optimizer
from scratchnn.training import evaluate

CHANCE_BAND = (0.9, 1.2)  # an initial loss within these multiples of ln C reads as chance
MEMORISED_LOSS = 0.05  # below this mean loss, with every image right, a batch is memorised


def chance_loss(n_classes: int) -> float:
    """The cross-entropy of a uniform guess over ``n_classes``: ln C."""
    return math.log(n_classes)


def initial_loss_verdict(loss: float, n_classes: int) -> str:
    """One line: the loss against ln C, and what it says."""
    chance = chance_loss(n_classes)
    head = f"initial loss {loss:.3f}, ln({n_classes}) = {chance:.3f} ({loss / chance:.2f}x): "
    low, high = CHANCE_BAND
    if loss < low * chance:
        return head + (
            "below chance before any training: do the labels leak into the inputs, "
            "or is the loss not what it should be?"
        )
    if loss > high * chance:
        return head + (
            "above chance: the first logits are large and confidently wrong; "
            "a smaller initial scale would start nearer ln C"
        )
    return head + "as expected, the untrained network spreads its bets evenly"


@dataclass(frozen=True)
class OverfitResult:
    images: int
    steps: int | None  # the steps it took to memorise the batch; None if it never did
    max_steps: int
    loss: float  # the batch's loss at the end
    accuracy: float

    def line(self) -> str:
        if self.steps is not None:
            return f"overfit check: memorised {self.images} images in {self.steps} steps"
        return (
            f"overfit check: {self.images} images NOT memorised in {self.max_steps} steps "
            f"(loss {self.loss:.3f}, accuracy {self.accuracy:.0%}): a bug in the gradients "
            "(python -m pipeline.tools.gradcheck), or a learning rate too small"
        )


def overfit_batch(
    network: Network,
    optimizer: Optimizer,
    lr: float,
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    max_steps: int = 1000,
) -> OverfitResult:
    """Train ``network`` on the one batch ``x`` (n, n_in), ``y`` (n,) (no weight decay, no
    augmentation; dropout as built, drawing from ``rng``) until, in evaluation mode, every image
    is right and the mean loss is below ``MEMORISED_LOSS``; at most ``max_steps`` steps."""
    loss_fn = SoftmaxCrossEntropy(network.n_outputs, network.dtype)
    loss, accuracy, _ = evaluate(network, x, y)
    for step in range(1, max_steps + 1):
        loss_fn.forward(network.forward(x, training=True, rng=rng), y)
        network.backward(loss_fn.backward())
        optimizer.step(network.params, network.grads, lr)
        loss, accuracy, _ = evaluate(network, x, y)
        if accuracy == 1.0 and loss < MEMORISED_LOSS:
            return OverfitResult(len(x), step, max_steps, loss, accuracy)
        if not math.isfinite(loss):
            break
    return OverfitResult(len(x), None, max_steps, loss, accuracy)
