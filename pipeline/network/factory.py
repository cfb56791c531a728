"""From configuration to scratchnn objects: the only place that maps names to classes."""

import math
from collections.abc import Callable
from functools import partial, reduce
from typing import Any

import numpy as np

import scratchnn as sn
from pipeline.config import (
    PARAMS_FILE,
    Config,
    ConfigError,
    InitializerName,
    OptimizerName,
    ScheduleName,
)
from pipeline.data.artifacts import N_CLASSES, N_PIXELS

LAYERS_KEY = "model.layers"


def initializer(cfg: Config) -> sn.initializers.Initializer:
    if cfg.model.initializer is InitializerName.scaled_normal:
        return partial(sn.scaled_normal, scale=cfg.model.init_scale)
    return sn.INITIALIZERS[cfg.model.initializer.value]


def explicit_layers(cfg: Config) -> tuple[list[dict[str, Any]], tuple[int, ...]] | None:
    """``model.layers`` and the input shape they are for, or None for the MLP shorthand."""
    if cfg.model.layers is None:
        return None
    shape = tuple(cfg.model.input_shape or (N_PIXELS,))
    return [dict(spec) for spec in cfg.model.layers], shape


def check_model(cfg: Config, source: str = PARAMS_FILE) -> None:
    """Refuse, naming the key, an architecture that cannot take MNIST's 784 pixels to 10
    classes: a wrong layer type, setting or shape (``model.layers[2].kernel=0 is not allowed:
    ...``). Checks shapes only; nothing is allocated. A stage calls it before reading data."""
    explicit = explicit_layers(cfg)
    if explicit is None:
        return  # the shorthand's values are checked with the rest of the schema
    specs, input_shape = explicit
    where = f"{source}: " if source else ""
    if math.prod(input_shape) != N_PIXELS:
        raise ConfigError(
            f"{where}model.input_shape={list(input_shape)} is not allowed: an image has "
            f"{N_PIXELS} pixels, e.g. [28, 28, 1] for convolutions or [784] for dense layers"
        )
    try:
        shapes = sn.check_layers(specs, input_shape, name=LAYERS_KEY)
    except sn.LayerSpecError as error:
        raise ConfigError(f"{where}{error}") from None
    if shapes[-1] != (N_CLASSES,):
        raise ConfigError(
            f"{where}{LAYERS_KEY}[{len(specs) - 1}]: the network ends with {shapes[-1]} values "
            f"per image, not one per class ({N_CLASSES}): end with a dense layer of "
            f"{N_CLASSES} units"
        )


def build_network(cfg: Config, n_inputs: int, n_classes: int) -> sn.Network:
    """The configured network for ``n_inputs`` pixels and ``n_classes`` classes, initialised
    from ``train.seed``: the MLP shorthand through ``sn.mlp``, or ``model.layers``."""
    rng = np.random.default_rng(cfg.train.seed)
    dtype = np.dtype(cfg.dtype.value)
    explicit = explicit_layers(cfg)
    if explicit is not None:
        check_model(cfg, source="")
        specs, input_shape = explicit
        return sn.build_network(
            specs, input_shape, rng=rng, dtype=dtype, initializer=initializer(cfg), name=LAYERS_KEY
        )
    return sn.mlp(
        [n_inputs, *cfg.model.hidden_sizes, n_classes],
        rng=rng,
        initializer=initializer(cfg),
        dtype=dtype,
        activation=cfg.model.activation.value,
        dropout=cfg.model.dropout,
        batch_norm=cfg.model.batch_norm,
    )


def build_augment(cfg: Config) -> Callable | None:
    """The configured augmentation of training batches, or None when it moves nothing: shifts,
    rotations and zooms, then elastic distortions, then flips (their random draws in that order, so
    adding a later one leaves the earlier ones drawn as before)."""
    augment = cfg.data.augment
    side = math.isqrt(N_PIXELS)
    steps: list[Callable] = []
    if augment.shift or augment.rotate or augment.scale:
        moves = sn.RandomShiftRotate(augment.shift, augment.rotate, side, max_scale=augment.scale)
        steps.append(moves)
    if augment.elastic:
        steps.append(sn.ElasticDistortion(augment.elastic, augment.elastic_sigma, side))
    if augment.flip:
        steps.append(sn.RandomFlip(side))
    return reduce(sn.chain, steps) if steps else None


def build_optimizer(cfg: Config, network: sn.Network) -> sn.Optimizer:
    """The configured optimiser for ``network``'s parameters (AdamW decays its weights only:
    ``network.decay_mask``)."""
    opt = cfg.optimizer
    match opt.name:
        case OptimizerName.sgd:
            return sn.SGD()
        case OptimizerName.momentum:
            return sn.Momentum(opt.momentum)
        case OptimizerName.adam:
            return sn.Adam(opt.beta1, opt.beta2, opt.eps)
        case OptimizerName.adamw:
            return sn.AdamW(opt.weight_decay, network.decay_mask, opt.beta1, opt.beta2, opt.eps)


def build_schedule(cfg: Config) -> sn.Schedule:
    """The configured schedule, after ``schedule.warmup_epochs`` of linear warm-up: a decay
    with a horizon (cosine) then spans the epochs left."""
    warmup = cfg.schedule.warmup_epochs
    schedule = decay_schedule(cfg, cfg.train.epochs - warmup)
    return sn.linear_warmup(schedule, warmup) if warmup else schedule


def decay_schedule(cfg: Config, epochs: int) -> sn.Schedule:
    """The configured decay, as if training lasted ``epochs`` (its horizon, for cosine; the
    original inverse-time rate lr0 / epochs stays the whole run's)."""
    lr0, schedule = cfg.optimizer.lr, cfg.schedule
    match schedule.name:
        case ScheduleName.constant:
            return sn.constant(lr0)
        case ScheduleName.inverse_time:
            decay = lr0 / cfg.train.epochs if schedule.decay is None else schedule.decay
            return sn.inverse_time_decay(lr0, decay)
        case ScheduleName.step:
            return sn.step_decay(lr0, schedule.step_size, schedule.gamma)
        case ScheduleName.exponential:
            return sn.exponential_decay(lr0, schedule.gamma)
        case ScheduleName.cosine:
            return sn.cosine_decay(lr0, epochs, schedule.min_lr)
