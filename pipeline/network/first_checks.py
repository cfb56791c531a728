"""The first checks at train's start: the initial loss against ln(10), and (``train.overfit_batch``)
whether a copy of the configured network memorises a few training images.

Neither touches the network that trains nor its random generator: the initial loss is an
evaluation pass, and the overfit check trains a second network, built from the same
configuration, with its own optimiser and generator. The weights train writes are the same with
the checks or without them.
"""

import numpy as np

import scratchnn as sn
from pipeline.config import Config
from pipeline.network.factory import build_network, build_optimizer
from scratchnn.first_checks import initial_loss_verdict, overfit_batch

INITIAL_LOSS_IMAGES = 2000  # validation images the initial loss is measured on
OVERFIT_MAX_STEPS = 1000


def first_checks(
    cfg: Config,
    network: sn.Network,
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
) -> tuple[list[str], dict[str, float]]:
    """The lines to print and the metrics to log (``checks/...``)."""
    x_val, y_val = (a[:INITIAL_LOSS_IMAGES] for a in validation)
    loss, _, _ = sn.evaluate(network, x_val.astype(network.dtype, copy=False), y_val)
    lines = [initial_loss_verdict(loss, network.n_outputs)]
    metrics = {"checks/initial_loss": loss}
    n = cfg.train.overfit_batch
    if n:
        x, y = train[0][:n].astype(network.dtype, copy=False), train[1][:n]
        copy = build_network(cfg, n_inputs=x.shape[1], n_classes=network.n_outputs)
        rng = np.random.default_rng([cfg.train.seed, 2])  # dropout's, apart from training's
        result = overfit_batch(
            copy, build_optimizer(cfg, copy), cfg.optimizer.lr, x, y, rng, OVERFIT_MAX_STEPS
        )
        lines.append(result.line())
        metrics["checks/overfit_steps"] = -1 if result.steps is None else result.steps
        metrics["checks/overfit_final_loss"] = result.loss
    return lines, metrics
