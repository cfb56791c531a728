"""Layers, one concept per file, each with ``forward`` and ``backward`` side by side.

Reading order: ``base`` (the contract every layer follows), ``dense``, ``activations``,
``conv`` (im2col), ``pooling``, ``global_pool``, ``shape`` (flatten), ``dropout``, ``batchnorm``;
then the containers: ``chain`` (layers in sequence inside a block) and ``residual``; then the
sequence layers: ``layernorm``, ``recurrent`` (the loops over time) with its cells ``lstm`` and
``gru``, ``tokens`` (patches, positions, class token, pooling), ``attention`` and ``transformer``
(a pre-norm encoder block: two residual blocks).
``LAYER_TYPES`` maps each layer's type name (``"conv2d"``) to its class: adding a layer is one
class with ``@register("name")`` in one of these files (or a new one imported here), and its tests.
"""

from scratchnn.layers.activations import GELU, LeakyReLU, ReLU, Sigmoid, Tanh
from scratchnn.layers.attention import SelfAttention
from scratchnn.layers.base import LAYER_TYPES, Layer, LayerSpecError, Shape, register
from scratchnn.layers.batchnorm import BatchNorm
from scratchnn.layers.conv import Conv2D
from scratchnn.layers.dense import Dense
from scratchnn.layers.dropout import Dropout
from scratchnn.layers.global_pool import GlobalAvgPool
from scratchnn.layers.gru import GRU
from scratchnn.layers.layernorm import LayerNorm
from scratchnn.layers.lstm import LSTM
from scratchnn.layers.pooling import AvgPool2D, MaxPool2D
from scratchnn.layers.residual import Residual
from scratchnn.layers.shape import Flatten
from scratchnn.layers.tokens import ClassToken, PatchEmbed, PositionEmbed, TokenPool
from scratchnn.layers.transformer import TransformerBlock

__all__ = [
    "GELU",
    "GRU",
    "LAYER_TYPES",
    "LSTM",
    "AvgPool2D",
    "BatchNorm",
    "ClassToken",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "GlobalAvgPool",
    "Layer",
    "LayerNorm",
    "LayerSpecError",
    "LeakyReLU",
    "MaxPool2D",
    "PatchEmbed",
    "PositionEmbed",
    "ReLU",
    "Residual",
    "SelfAttention",
    "Shape",
    "Sigmoid",
    "Tanh",
    "TokenPool",
    "TransformerBlock",
    "register",
]
