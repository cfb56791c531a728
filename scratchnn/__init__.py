"""scratchnn: a small neural-network library written from scratch in NumPy.

A newcomer's reading order: ``layers`` (Dense and ReLU, forward next to backward),
``losses`` (softmax + cross-entropy), ``network`` (how layers share one parameter buffer),
``optimizers`` and ``schedules`` (how parameters move), ``training`` (the loop).
Nothing here imports the pipeline: the library stands on its own.
"""

from scratchnn.initializers import INITIALIZERS, he_normal, scaled_normal
from scratchnn.layers import Dense, ReLU
from scratchnn.losses import SoftmaxCrossEntropy
from scratchnn.metrics import accuracy, confusion_matrix
from scratchnn.network import Network, mlp
from scratchnn.optimizers import SGD, Adam, Momentum, Optimizer
from scratchnn.schedules import (
    Schedule,
    constant,
    cosine_decay,
    exponential_decay,
    inverse_time_decay,
    step_decay,
)
from scratchnn.serialization import WeightsError, load_weights, save_weights
from scratchnn.training import EpochMetrics, TrainingDiverged, evaluate, fit

__all__ = [
    "INITIALIZERS",
    "SGD",
    "Adam",
    "Dense",
    "EpochMetrics",
    "Momentum",
    "Network",
    "Optimizer",
    "ReLU",
    "Schedule",
    "SoftmaxCrossEntropy",
    "TrainingDiverged",
    "WeightsError",
    "accuracy",
    "confusion_matrix",
    "constant",
    "cosine_decay",
    "evaluate",
    "exponential_decay",
    "fit",
    "he_normal",
    "inverse_time_decay",
    "load_weights",
    "mlp",
    "save_weights",
    "scaled_normal",
    "step_decay",
]
