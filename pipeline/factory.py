"""From configuration to scratchnn objects: the only place that maps names to classes."""

from functools import partial

import numpy as np

import scratchnn as sn
from pipeline.config import Config, InitializerName, OptimizerName, ScheduleName


def build_network(cfg: Config, n_inputs: int, n_classes: int) -> sn.Network:
    """The MLP ``n_inputs -> hidden_sizes... -> n_classes``, initialised from ``train.seed``."""
    if cfg.model.initializer is InitializerName.scaled_normal:
        initializer = partial(sn.scaled_normal, scale=cfg.model.init_scale)
    else:
        initializer = sn.he_normal
    return sn.mlp(
        [n_inputs, *cfg.model.hidden_sizes, n_classes],
        rng=np.random.default_rng(cfg.train.seed),
        initializer=initializer,
        dtype=np.dtype(cfg.dtype.value),
    )


def build_optimizer(cfg: Config) -> sn.Optimizer:
    opt = cfg.optimizer
    match opt.name:
        case OptimizerName.sgd:
            return sn.SGD()
        case OptimizerName.momentum:
            return sn.Momentum(opt.momentum)
        case OptimizerName.adam:
            return sn.Adam(opt.beta1, opt.beta2, opt.eps)


def build_schedule(cfg: Config) -> sn.Schedule:
    lr0, schedule, epochs = cfg.optimizer.lr, cfg.schedule, cfg.train.epochs
    match schedule.name:
        case ScheduleName.constant:
            return sn.constant(lr0)
        case ScheduleName.inverse_time:
            decay = lr0 / epochs if schedule.decay is None else schedule.decay
            return sn.inverse_time_decay(lr0, decay)
        case ScheduleName.step:
            return sn.step_decay(lr0, schedule.step_size, schedule.gamma)
        case ScheduleName.exponential:
            return sn.exponential_decay(lr0, schedule.gamma)
        case ScheduleName.cosine:
            return sn.cosine_decay(lr0, epochs, schedule.min_lr)
