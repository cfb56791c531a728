"""scratchnn: a small neural-network library written from scratch in NumPy.

A newcomer's reading order: ``layers`` (``base``, the contract every layer follows; then Dense,
the activations, Conv2D, pooling, dropout, batch norm: forward next to backward, shapes in
comments), ``losses`` (softmax + cross-entropy), ``network`` (how layers share one parameter
buffer), ``builder`` (networks from lists of dicts), ``optimizers`` and ``schedules`` (how
parameters move), ``training`` (the loop), ``augment`` and ``flip``, and ``serialization``.
Nothing here imports the pipeline: the library stands on its own.
"""

from scratchnn.augment import RandomShiftRotate
from scratchnn.builder import ACTIVATIONS, build_network, check_layers, mlp
from scratchnn.errors import LayerSpecError, WeightsError
from scratchnn.flip import RandomFlip, chain
from scratchnn.initializers import (
    INITIALIZERS,
    glorot_normal,
    glorot_uniform,
    he_normal,
    he_uniform,
    lecun_normal,
    scaled_normal,
)
from scratchnn.layers import (
    GELU,
    LAYER_TYPES,
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    LeakyReLU,
    MaxPool2D,
    ReLU,
    Sigmoid,
    Tanh,
)
from scratchnn.losses import SoftmaxCrossEntropy
from scratchnn.metrics import accuracy, confusion_matrix
from scratchnn.network import Network
from scratchnn.optimizers import SGD, Adam, Momentum, Optimizer
from scratchnn.schedules import (
    Schedule,
    constant,
    cosine_decay,
    exponential_decay,
    inverse_time_decay,
    step_decay,
)
from scratchnn.serialization import load_weights, save_weights
from scratchnn.training import EpochMetrics, TrainingDiverged, evaluate, fit

__all__ = [
    "ACTIVATIONS",
    "GELU",
    "INITIALIZERS",
    "LAYER_TYPES",
    "SGD",
    "Adam",
    "AvgPool2D",
    "BatchNorm",
    "Conv2D",
    "Dense",
    "Dropout",
    "EpochMetrics",
    "Flatten",
    "Layer",
    "LayerSpecError",
    "LeakyReLU",
    "MaxPool2D",
    "Momentum",
    "Network",
    "Optimizer",
    "RandomFlip",
    "RandomShiftRotate",
    "ReLU",
    "Schedule",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "TrainingDiverged",
    "WeightsError",
    "accuracy",
    "build_network",
    "chain",
    "check_layers",
    "confusion_matrix",
    "constant",
    "cosine_decay",
    "evaluate",
    "exponential_decay",
    "fit",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "inverse_time_decay",
    "lecun_normal",
    "load_weights",
    "mlp",
    "save_weights",
    "scaled_normal",
    "step_decay",
]
