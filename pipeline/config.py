"""The configuration's schema, and loading it from ``params.yaml`` or from Hydra's ``conf/``.

``conf/`` is the single source of truth. ``params.yaml`` is its composition (``dvc exp run``
writes it, and so does ``python -m pipeline.tools.params``), and the stages read it. Every load is
checked against the dataclasses below, so a wrong key, type or value stops a stage before it
reads any data, with the key's name in the message. Values ``conf/`` must give are MISSING here
(``conf/`` holds the defaults); only an algorithm's own knobs (Adam's betas...) have defaults.
"""

import dataclasses
import difflib
import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

from pipeline.data.catalog import dataset
from pipeline.errors import PipelineError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = PROJECT_ROOT / "conf"
PARAMS_FILE = "params.yaml"


class ConfigError(PipelineError, ValueError):
    """A configuration that cannot run; the message names the key, the value and what is allowed."""


class DType(Enum):
    float32 = "float32"
    float64 = "float64"


class DatasetName(Enum):  # pipeline/data/catalog.py: each one's classes
    mnist = "mnist"
    fashion_mnist = "fashion_mnist"


class InitializerName(Enum):
    he_normal = "he_normal"
    he_uniform = "he_uniform"
    lecun_normal = "lecun_normal"
    glorot_normal = "glorot_normal"
    glorot_uniform = "glorot_uniform"
    scaled_normal = "scaled_normal"


class Activation(Enum):
    relu = "relu"
    leaky_relu = "leaky_relu"
    sigmoid = "sigmoid"
    tanh = "tanh"
    gelu = "gelu"


class OptimizerName(Enum):
    sgd = "sgd"
    momentum = "momentum"
    adam = "adam"
    adamw = "adamw"


class ScheduleName(Enum):
    constant = "constant"
    inverse_time = "inverse_time"
    step = "step"
    exponential = "exponential"
    cosine = "cosine"


@dataclass
class PathsConfig:
    """Where stages write; ``dvc.yaml`` reads the same keys, so the two never disagree."""

    raw: str = MISSING  # fetch's CSVs
    prepared: str = MISSING  # prepare's arrays
    model: str = MISSING  # the trained weights (.npz)
    reports: str = MISSING  # history, metrics, predictions, report
    checked: str = MISSING  # check_params's mark that params.yaml holds known keys only


@dataclass
class AugmentConfig:
    """Random moves of the training images, drawn afresh for every batch (``train`` only: the
    prepared data and the validation and test images are never moved)."""

    shift: int = 0  # up to this many pixels along each axis, zeros shifted in; 0: no shifts
    rotate: float = 0.0  # up to this many degrees either way (bilinear); 0: no rotations
    scale: float = 0.0  # zoom by up to this fraction either way (0.1: 0.9x to 1.1x); 0: none
    flip: bool = False  # mirror left-right half the images (not for digits: see data.name)
    elastic: float = 0.0  # elastic distortions (Simard 2003): alpha, the warp's scale; 0: none
    elastic_sigma: float = 4.0  # how smooth the distortion field is, in pixels


@dataclass
class DataConfig:
    """Which dataset, where its CSVs are and how ``prepare`` splits them; how ``train``
    augments them."""

    # what fetch downloads and what the classes are called; files without it are MNIST's
    name: DatasetName = DatasetName.mnist
    train_csv: str = MISSING  # a label column named "label" and 784 pixel columns
    test_csv: str = MISSING  # the same, the label column optional
    val_size: int = MISSING  # rows held out from the shuffled training CSV for validation
    seed: int = MISSING  # seeds the shuffle, hence which rows are held out
    augment: AugmentConfig = field(default_factory=AugmentConfig)


PREPARE_KEYS = ("train_csv", "test_csv", "val_size", "seed")  # what prepare reads of data.*


def prepare_settings(data: DataConfig) -> dict[str, Any]:
    """The ``data`` settings the prepared arrays depend on (``dvc.yaml``'s prepare params)."""
    return {key: getattr(data, key) for key in PREPARE_KEYS}


@dataclass
class ModelConfig:
    """The MLP shorthand (``hidden_sizes`` with ``activation``, ``dropout``, ``batch_norm``:
    conf/model/mlp.yaml), or an explicit list of ``layers`` for inputs of ``input_shape``
    (conf/model/cnn.yaml, lstm.yaml, vit.yaml), which then decides the architecture alone.
    Each layer is a mapping with a ``type`` (a name in ``scratchnn.LAYER_TYPES``: dense,
    conv2d, maxpool2d, avgpool2d, global_avgpool, flatten, dropout, batchnorm, residual,
    layernorm, lstm, gru, patch_embed, class_token, position_embed, attention, token_pool,
    transformer_block, relu, leaky_relu, sigmoid, tanh, gelu) and that layer's settings,
    checked by scratchnn's own layer classes when a stage starts
    (``pipeline.network.factory.check_model``); a residual block nests its own ``layers``."""

    hidden_sizes: list[int] = field(default_factory=list)
    activation: Activation = Activation.relu  # after each hidden dense layer
    dropout: float = 0.0  # inverted dropout after each hidden activation; 0 turns it off
    batch_norm: bool = False  # batch norm between each hidden dense layer and its activation
    layers: list[dict[str, Any]] | None = None  # an explicit architecture instead of the above
    input_shape: list[int] | None = None  # of one image, for layers: [28, 28, 1] for convolutions
    initializer: InitializerName = MISSING
    init_scale: float = 0.10  # scaled_normal only: weights = init_scale * N(0, 1)


@dataclass
class OptimizerConfig:
    name: OptimizerName = MISSING
    lr: float = MISSING  # the base rate that the schedule starts from
    momentum: float = 0.9  # momentum only
    beta1: float = 0.9  # adam and adamw
    beta2: float = 0.999  # adam and adamw
    eps: float = 1e-8  # adam and adamw
    weight_decay: float = 0.01  # adamw only: decoupled, params *= 1 - lr·wd, on weights only


@dataclass
class ScheduleConfig:
    name: ScheduleName = MISSING
    decay: float | None = None  # inverse_time; null means optimizer.lr / train.epochs (original)
    step_size: int = 10  # step: epochs between drops
    gamma: float = 0.5  # step and exponential: the factor per drop / per epoch
    min_lr: float = 0.0  # cosine: the rate it decays towards
    warmup_epochs: int = 0  # a linear rise to optimizer.lr first; the schedule runs after it


@dataclass
class TrainConfig:
    epochs: int = MISSING
    batch_size: int | None = MISSING  # null: full batch (every step sees all training rows)
    seed: int = MISSING  # seeds initial weights and batch order
    weight_decay: float = MISSING  # L2 penalty wd/2·|θ|², on every parameter
    overfit_batch: int = 0  # first memorise this many images on a copy of the network; 0: off
    diagnostics: bool = True  # per-layer statistics every epoch (weights, gradients, units)
    clip_norm: float | None = None  # scale each step's gradient down to this global norm


@dataclass
class TrackingConfig:
    """MLflow. Where runs go is not configuration but environment: MLFLOW_TRACKING_URI, else
    the project's own store (see pipeline/tracking/mlflow_runs.py)."""

    enabled: bool = MISSING
    experiment: str = MISSING  # the MLflow experiment that runs are grouped under


@dataclass
class Config:
    dtype: DType = MISSING  # of prepared data, weights and arithmetic
    paths: PathsConfig = field(default_factory=PathsConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)


def _check(condition: bool, key: str, value: Any, allowed: str) -> None:
    if not condition:
        raise ConfigError(f"{key}={value!r} is not allowed: {allowed}")


def check_finite(value: Any, key: str) -> None:
    """Every number anywhere in ``value`` is finite: ``inf`` or ``nan`` would train on (or
    diverge) rather than be refused, so they are refused here, naming the key."""
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            check_finite(getattr(value, f.name), f"{key}.{f.name}" if key else f.name)
    elif isinstance(value, dict):
        for name, item in value.items():
            check_finite(item, f"{key}.{name}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_finite(item, f"{key}[{i}]")
    elif isinstance(value, float):
        _check(math.isfinite(value), key, value, "it must be a finite number")


def check_ranges(cfg: Config) -> None:
    """Values the types admit but training cannot use."""
    check_finite(cfg, "")
    _check(cfg.data.val_size >= 1, "data.val_size", cfg.data.val_size, "it must be >= 1")
    if cfg.model.layers is None:
        _check(
            len(cfg.model.hidden_sizes) >= 1,
            "model.hidden_sizes",
            cfg.model.hidden_sizes,
            "give at least one hidden layer size, e.g. [128, 64], or a list of model.layers",
        )
    for i, size in enumerate(cfg.model.hidden_sizes):
        _check(size >= 1, f"model.hidden_sizes[{i}]", size, "layer sizes must be >= 1")
    _check(0 <= cfg.model.dropout < 1, "model.dropout", cfg.model.dropout, "it must be in [0, 1)")
    augment = cfg.data.augment
    _check(0 <= augment.shift < 28, "data.augment.shift", augment.shift, "it must be in [0, 28)")
    _check(
        0 <= augment.rotate <= 180, "data.augment.rotate", augment.rotate, "it must be in [0, 180]"
    )
    _check(0 <= augment.scale < 1, "data.augment.scale", augment.scale, "it must be in [0, 1)")
    _check(augment.elastic >= 0, "data.augment.elastic", augment.elastic, "it must be >= 0")
    _check(
        augment.elastic_sigma > 0,
        "data.augment.elastic_sigma",
        augment.elastic_sigma,
        "it must be > 0 (Simard et al. used 4)",
    )
    _check(
        not augment.flip or dataset(cfg.data.name.value).flippable,
        "data.augment.flip",
        augment.flip,
        f"a mirrored {dataset(cfg.data.name.value).noun} is not of the same class (a flipped 2 is "
        f"not a 2) and data.name is {cfg.data.name.value}; flips suit data=fashion_mnist",
    )
    _check(cfg.model.init_scale > 0, "model.init_scale", cfg.model.init_scale, "it must be > 0")
    _check(cfg.optimizer.lr > 0, "optimizer.lr", cfg.optimizer.lr, "it must be > 0")
    _check(
        0 <= cfg.optimizer.momentum < 1,
        "optimizer.momentum",
        cfg.optimizer.momentum,
        "it must be in [0, 1)",
    )
    for key in ("beta1", "beta2"):
        value = getattr(cfg.optimizer, key)
        _check(0 <= value < 1, f"optimizer.{key}", value, "it must be in [0, 1)")
    _check(cfg.optimizer.eps > 0, "optimizer.eps", cfg.optimizer.eps, "it must be > 0")
    _check(
        cfg.optimizer.weight_decay >= 0,
        "optimizer.weight_decay",
        cfg.optimizer.weight_decay,
        "it must be >= 0",
    )
    if cfg.schedule.decay is not None:
        _check(cfg.schedule.decay >= 0, "schedule.decay", cfg.schedule.decay, "it must be >= 0")
    _check(
        cfg.schedule.step_size >= 1, "schedule.step_size", cfg.schedule.step_size, "it must be >= 1"
    )
    _check(cfg.schedule.gamma > 0, "schedule.gamma", cfg.schedule.gamma, "it must be > 0")
    _check(
        0 <= cfg.schedule.min_lr <= cfg.optimizer.lr,
        "schedule.min_lr",
        cfg.schedule.min_lr,
        "it must be between 0 and optimizer.lr",
    )
    _check(cfg.train.epochs >= 1, "train.epochs", cfg.train.epochs, "it must be >= 1")
    _check(
        0 <= cfg.schedule.warmup_epochs < cfg.train.epochs,
        "schedule.warmup_epochs",
        cfg.schedule.warmup_epochs,
        "it must be >= 0 and leave the schedule at least one of train.epochs",
    )
    if cfg.train.clip_norm is not None:
        _check(
            cfg.train.clip_norm > 0,
            "train.clip_norm",
            cfg.train.clip_norm,
            "it must be > 0, or null for no clipping",
        )
    _check(
        cfg.train.weight_decay >= 0, "train.weight_decay", cfg.train.weight_decay, "it must be >= 0"
    )
    _check(
        cfg.train.overfit_batch >= 0,
        "train.overfit_batch",
        cfg.train.overfit_batch,
        "it must be >= 0 (0 turns the check off)",
    )
    if cfg.train.batch_size is not None:
        _check(
            cfg.train.batch_size >= 1,
            "train.batch_size",
            cfg.train.batch_size,
            "it must be >= 1, or null for full batch",
        )


def too_large(tree: Any, prefix: str = "") -> Iterator[str]:
    """The keys of ``tree`` whose value is an integer no float can hold."""
    mapping = isinstance(tree, dict | DictConfig)
    for key, value in tree.items() if mapping else enumerate(tree):
        where = (f"{prefix}.{key}" if prefix else str(key)) if mapping else f"{prefix}[{key}]"
        if isinstance(value, int) and abs(value) > sys.float_info.max:
            yield where
        elif isinstance(value, dict | list | DictConfig | ListConfig):
            yield from too_large(value, where)


def validate(raw: DictConfig | dict) -> Config:
    """Check ``raw`` against the schema and return it as typed dataclasses."""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(Config), raw)
        cfg = OmegaConf.to_object(merged)
    except OverflowError:  # an integer beyond any float, for a float key
        key = next(too_large(raw), "")
        raise ConfigError(f"{key}: a number too large for a float") from None
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", None)
        message = str(error).splitlines()[0]
        schema = getattr(error, "object_type", None)
        if isinstance(error, ConfigKeyError) and dataclasses.is_dataclass(schema):
            allowed = [f.name for f in dataclasses.fields(schema)]
            message += f"; allowed keys: {', '.join(allowed)}"
            nearest = difflib.get_close_matches(str(getattr(error, "key", "")), allowed, n=1)
            if nearest and key:
                message += f"; did you mean {'.'.join([*str(key).split('.')[:-1], *nearest])}?"
        where = f"{key}: " if key else ""
        raise ConfigError(f"{where}{message}") from None
    assert isinstance(cfg, Config)
    check_ranges(cfg)
    return cfg


def load_params(path: str | Path = PARAMS_FILE) -> Config:
    """Read and check ``params.yaml`` (what ``dvc repro`` tracks)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file; regenerate it with `make params`")
    try:
        raw = OmegaConf.load(path)
    except Exception as error:  # a YAML syntax error, reported with the file's name
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    try:
        return validate(raw)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}{recovery_hint()}") from None


# `dvc exp run -S key=value` writes params.yaml, then DVC deletes the stage's outputs before the
# stage refuses the value: the workspace is left with that params.yaml and no model
EXPERIMENT_RECOVERY = (
    "; `dvc exp run` wrote this into params.yaml: "
    "`make baseline` brings back the committed one and its results"
)


def recovery_hint() -> str:
    """How to get back a working workspace, when a DVC experiment set the refused value."""
    return EXPERIMENT_RECOVERY if os.environ.get("DVC_EXP_NAME") else ""


def compose(overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """Compose ``conf/config.yaml`` with Hydra overrides, as ``dvc exp run`` does."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException

    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return hydra_compose(config_name="config", overrides=list(overrides))
    except (HydraException, ValueError) as error:  # Hydra's parser, its groups, its checks
        raise ConfigError(f"overrides {' '.join(overrides)!r}: {one_line(error)}") from None


def one_line(error: Exception) -> str:
    """Hydra's multi-line message as one line: without its search path, caret and docs link."""
    text = str(error).split("\nConfig search path:")[0]
    lines = [line.strip() for line in text.splitlines()]
    kept = [line for line in lines if line.strip("^") and not line.startswith("See https://")]
    return " ".join(kept)


def to_yaml(raw: DictConfig) -> str:
    """The text DVC writes to ``params.yaml`` for a composed config (interpolations resolved)."""
    try:
        OmegaConf.resolve(raw)
    except OmegaConfBaseException as error:  # an override ``${...}`` naming nothing
        raise ConfigError(str(error).splitlines()[0]) from None
    return OmegaConf.to_yaml(raw)
