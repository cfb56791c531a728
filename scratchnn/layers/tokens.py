"""Layers that turn an image into a sequence of tokens (batch, T, D) and back into one vector:
the first and last layers of a vision transformer (Dosovitskiy et al., 2021)."""

import numpy as np

from scratchnn.buffers import RowBuffer
from scratchnn.initializers import Initializer, scaled_normal
from scratchnn.layers.base import Arrays, Layer, LayerSpecError, Rng, Shape, register, require
from scratchnn.layers.dense import Dense

TOKEN_INIT_SCALE = 0.02  # learned tokens and positions start as N(0, 0.02^2), as in BERT and ViT
POOL_MODES = ("class", "mean")


def require_tokens(layer: Layer, input_shape: Shape) -> tuple[int, int]:
    """``(T, D)`` of a sequence-of-tokens input shape, or an error naming the layer."""
    if len(input_shape) != 2:
        raise LayerSpecError(
            f"{layer.type_name} needs tokens (T, D), got {input_shape}: start with patch_embed"
        )
    return input_shape


@register("patch_embed")
class PatchEmbed(Layer):
    """Cut a (h, w, c) image into non-overlapping ``patch`` x ``patch`` squares, read row by row,
    and map each square's p*p*c values to a token of ``dim`` values by one shared linear map:
    (batch, h, w, c) -> (batch, T, dim), T = (h/p) * (w/p). The map is a ``Dense(dim)`` over the
    last axis of the patches (batch, T, p*p*c), whose arrays this layer lends it."""

    weight_names = ("weights",)

    def __init__(self, patch: int, dim: int) -> None:
        require(patch >= 1, "patch", patch, "a patch needs at least 1x1 pixels")
        require(dim >= 1, "dim", dim, "a token needs at least 1 value")
        self.patch, self.dim = patch, dim
        self.linear = Dense(dim)

    def output_shape_for(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise LayerSpecError(f"patch_embed needs images (h, w, channels), got {input_shape}")
        h, w, self.channels = input_shape
        p = self.patch
        require(h % p == 0 and w % p == 0, "patch", p, f"it must divide the image's size {h}x{w}")
        self.grid = (h // p, w // p)
        return self.linear.build((self.grid[0] * self.grid[1], p * p * self.channels))

    def param_shapes(self) -> dict[str, Shape]:
        return self.linear.param_shapes()

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        self.linear.bind(params, grads, state, dtype)
        self._patches = RowBuffer(self.linear.input_shape, dtype)
        self._dx = RowBuffer(self.input_shape, dtype)

    def work_per_row(self) -> int:
        return self.linear.work_per_row() + 2 * self.linear.n_in * self.linear.input_shape[0]

    def as_patches(self, images: np.ndarray) -> np.ndarray:
        """(batch, h, w, c) as (batch, h/p, p, w/p, p, c) -> (batch, h/p, w/p, p, p, c): a view."""
        (gh, gw), p = self.grid, self.patch
        return images.reshape(-1, gh, p, gw, p, self.channels).transpose(0, 1, 3, 2, 4, 5)

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        # x: (batch, h, w, c) -> patches (batch, T, p*p*c) -> y: (batch, T, dim)
        patches = self._patches.take(len(x))
        np.copyto(patches.reshape(self.as_patches(x).shape), self.as_patches(x))
        return self.linear.forward(patches)

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        # dy: (batch, T, dim) -> dpatches (batch, T, p*p*c) -> dx: (batch, h, w, c)
        dpatches = self.linear.backward(dy, need_dx)
        if dpatches is None:
            return None
        dx = self._dx.take(len(dy))
        as_patches = self.as_patches(dx)
        np.copyto(as_patches, dpatches.reshape(as_patches.shape))
        return dx


@register("position_embed")
class PositionEmbed(Layer):
    """Add a learned (T, D) table to the tokens: ``y = x + E``, so that token t carries where it
    came from (attention alone does not know the order). ``dE`` = the sum of dy over the batch;
    ``dx = dy``."""

    can_work_in_place = True

    def __init__(self) -> None:
        pass

    def output_shape_for(self, input_shape: Shape) -> Shape:
        require_tokens(self, input_shape)
        return input_shape

    def param_shapes(self) -> dict[str, Shape]:
        return {"embedding": self.input_shape}

    def initialize(self, initializer: Initializer, rng: np.random.Generator) -> None:
        self.params["embedding"][...] = scaled_normal(self.input_shape, rng, TOKEN_INIT_SCALE)

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        # x: (batch, T, D) -> y: (batch, T, D)
        y = self.output(x)
        np.add(x, self.params["embedding"], out=y)
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        np.sum(dy, axis=0, out=self.grads["embedding"])  # (T, D)
        return dy if need_dx else None


@register("class_token")
class ClassToken(Layer):
    """Put a learned token in front of the sequence, (batch, T, D) -> (batch, T+1, D): after the
    attention layers it has gathered from every token, and ``token_pool(mode="class")`` reads it.
    ``dtoken`` = the sum of dy[:, 0] over the batch; ``dx = dy[:, 1:]``."""

    def __init__(self) -> None:
        pass

    def output_shape_for(self, input_shape: Shape) -> Shape:
        t, d = require_tokens(self, input_shape)
        return (t + 1, d)

    def param_shapes(self) -> dict[str, Shape]:
        return {"token": (self.input_shape[1],)}

    def initialize(self, initializer: Initializer, rng: np.random.Generator) -> None:
        self.params["token"][...] = scaled_normal((self.input_shape[1],), rng, TOKEN_INIT_SCALE)

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        self._dx = RowBuffer(self.input_shape, dtype)

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        # x: (batch, T, D) -> y: (batch, T+1, D)
        y = self._y.take(len(x))
        y[:, 0] = self.params["token"]
        y[:, 1:] = x
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        np.sum(dy[:, 0], axis=0, out=self.grads["token"])  # (D,)
        if not need_dx:
            return None
        dx = self._dx.take(len(dy))
        np.copyto(dx, dy[:, 1:])
        return dx


@register("token_pool")
class TokenPool(Layer):
    """One vector per sample from its tokens, (batch, T, D) -> (batch, D): the class token's
    (``mode="class"``: token 0) or the mean of all tokens (``mode="mean"``)."""

    def __init__(self, mode: str = "class") -> None:
        require(mode in POOL_MODES, "mode", mode, f"one of {', '.join(POOL_MODES)}")
        self.mode = mode

    def output_shape_for(self, input_shape: Shape) -> Shape:
        return (require_tokens(self, input_shape)[1],)

    def bind(self, params: Arrays, grads: Arrays, state: Arrays, dtype: np.dtype) -> None:
        super().bind(params, grads, state, dtype)
        self._dx = RowBuffer(self.input_shape, dtype)

    def forward(self, x: np.ndarray, training: bool = False, rng: Rng = None) -> np.ndarray:
        # x: (batch, T, D) -> y: (batch, D)
        y = self._y.take(len(x))
        if self.mode == "class":
            np.copyto(y, x[:, 0])
        else:
            np.mean(x, axis=1, out=y)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # dy: (batch, D) -> dx: (batch, T, D)
        dx = self._dx.take(len(dy))
        if self.mode == "class":  # only token 0 reached the output
            dx.fill(0)
            dx[:, 0] = dy
        else:  # each token gave 1/T of the mean
            np.multiply(dy[:, None], 1 / self.input_shape[0], out=dx)
        return dx
