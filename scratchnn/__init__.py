"""scratchnn: a small neural-network library written from scratch in NumPy.

A newcomer's reading order: ``layers`` (``base``, the contract every layer follows; then Dense,
the activations, Conv2D, pooling, dropout, batch norm, then the sequence layers: layer norm,
LSTM and GRU, tokens and attention; forward next to backward, shapes in comments), ``losses``
(softmax + cross-entropy), ``network`` (how layers share one parameter buffer), ``builder``
(networks from lists of dicts), ``optimizers`` and ``schedules`` (how parameters move),
``training`` (the loop), ``augment``, ``elastic`` and ``flip``, and ``serialization``.
Nothing here imports the pipeline: the library stands on its own.
"""

from scratchnn.augment import RandomShiftRotate
from scratchnn.builder import ACTIVATIONS, build_network, check_layers, mlp
from scratchnn.dynamics import LayerDynamics
from scratchnn.elastic import ElasticDistortion
from scratchnn.errors import LayerSpecError, WeightsError
from scratchnn.flip import RandomFlip, chain
from scratchnn.initializers import (
    INITIALIZERS,
    glorot_normal,
    glorot_uniform,
    he_normal,
    he_uniform,
    lecun_normal,
    orthogonal,
    scaled_normal,
)
from scratchnn.layers import (
    GELU,
    GRU,
    LAYER_TYPES,
    LSTM,
    AvgPool2D,
    BatchNorm,
    ClassToken,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool,
    Layer,
    LayerNorm,
    LeakyReLU,
    MaxPool2D,
    PatchEmbed,
    PositionEmbed,
    ReLU,
    Residual,
    SelfAttention,
    Sigmoid,
    Tanh,
    TokenPool,
    TransformerBlock,
)
from scratchnn.losses import SoftmaxCrossEntropy
from scratchnn.metrics import accuracy, confusion_matrix
from scratchnn.network import Network
from scratchnn.optimizers import SGD, Adam, AdamW, Momentum, Optimizer
from scratchnn.schedules import (
    Schedule,
    constant,
    cosine_decay,
    exponential_decay,
    inverse_time_decay,
    linear_warmup,
    step_decay,
)
from scratchnn.serialization import load_weights, save_weights
from scratchnn.training import (
    EpochMetrics,
    TrainingDiverged,
    clip_by_global_norm,
    evaluate,
    fit,
)

__all__ = [
    "ACTIVATIONS",
    "GELU",
    "GRU",
    "INITIALIZERS",
    "LAYER_TYPES",
    "LSTM",
    "SGD",
    "Adam",
    "AdamW",
    "AvgPool2D",
    "BatchNorm",
    "ClassToken",
    "Conv2D",
    "Dense",
    "Dropout",
    "ElasticDistortion",
    "EpochMetrics",
    "Flatten",
    "GlobalAvgPool",
    "Layer",
    "LayerDynamics",
    "LayerNorm",
    "LayerSpecError",
    "LeakyReLU",
    "MaxPool2D",
    "Momentum",
    "Network",
    "Optimizer",
    "PatchEmbed",
    "PositionEmbed",
    "RandomFlip",
    "RandomShiftRotate",
    "ReLU",
    "Residual",
    "Schedule",
    "SelfAttention",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "TokenPool",
    "TrainingDiverged",
    "TransformerBlock",
    "WeightsError",
    "accuracy",
    "build_network",
    "chain",
    "check_layers",
    "clip_by_global_norm",
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
    "linear_warmup",
    "load_weights",
    "mlp",
    "orthogonal",
    "save_weights",
    "scaled_normal",
    "step_decay",
]
