"""The pre-norm transformer encoder block (as in ViT), made of layers you already know."""

from typing import Any

import numpy as np

from scratchnn.initializers import Initializer
from scratchnn.layers.activations import GELU
from scratchnn.layers.attention import SelfAttention
from scratchnn.layers.base import Arrays, Layer, Rng, Shape, register, require
from scratchnn.layers.chain import Chain
from scratchnn.layers.dense import Dense
from scratchnn.layers.dropout import Dropout
from scratchnn.layers.layernorm import LayerNorm
from scratchnn.layers.residual import Residual
from scratchnn.layers.tokens import require_tokens


@register("transformer_block")
class TransformerBlock(Layer):
    """Two residual blocks over tokens (batch, T, D), each normalising its input first:

        x = x + attention(layernorm(x))                       mixes the tokens
        y = x + dense_D(gelu(dense_mlp_units(layernorm(x))))  works on each token alone

    It is a shorthand, nothing more: the same network written out is

        {type: residual, layers: [{type: layernorm}, {type: attention, heads: h}]}
        {type: residual, layers: [{type: layernorm}, {type: dense, units: mlp_units},
                                  {type: gelu}, {type: dense, units: D}]}

    with, when ``dropout`` > 0, a dropout layer after the attention, after the GELU and after
    the last dense layer. ``mlp_units`` defaults to 4 D, the ratio of ViT and BERT. Arrays are
    named by position: ``"0.1.qkv_weights"`` is the first block's attention.
    """

    def __init__(self, heads: int = 4, mlp_units: int | None = None, dropout: float = 0.0) -> None:
        require(heads >= 1, "heads", heads, "attention needs at least 1 head")
        require(mlp_units is None or mlp_units >= 1, "mlp_units", mlp_units, "at least 1")
        require(0 <= dropout < 1, "dropout", dropout, "the fraction dropped must be in [0, 1)")
        self.heads, self.mlp_units, self.dropout = heads, mlp_units, float(dropout)

    def output_shape_for(self, input_shape: Shape) -> Shape:
        _, d = require_tokens(self, input_shape)
        reason = f"the token width {d} must be divisible by it"
        require(d % self.heads == 0, "heads", self.heads, reason)

        def dropped(*layers: Layer) -> list[Layer]:
            return [*layers, Dropout(self.dropout)] if self.dropout else list(layers)

        mlp_units = self.mlp_units or 4 * d
        attention = [LayerNorm(), *dropped(SelfAttention(self.heads))]
        mlp = [LayerNorm(), Dense(mlp_units), *dropped(GELU()), *dropped(Dense(d))]
        self.blocks = Chain([Residual(attention), Residual(mlp)])
        return self.blocks.build(input_shape)

    def param_shapes(self) -> dict[str, Shape]:
        return self.blocks.param_shapes()

    def decayed_names(self) -> tuple[str, ...]:
        return self.blocks.decayed_names()

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        self.blocks.bind(params, grads, state, dtype)

    def initialize(self, initializer: Initializer, rng: np.random.Generator) -> None:
        self.blocks.initialize(initializer, rng)

    def work_per_row(self) -> int:
        return self.blocks.work_per_row()

    def specs(self) -> list[dict[str, Any]]:
        """The block written out as the residual layers it is made of."""
        return self.blocks.specs()

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        # x: (batch, T, D) -> y: (batch, T, D)
        return self.blocks.forward(x, training, rng)

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        return self.blocks.backward(dy, need_dx)
