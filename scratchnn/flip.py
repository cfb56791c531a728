"""Random horizontal flips of square images, a batch at a time, and chaining augmentations.

``RandomFlip(side=28)(x, rng)`` takes rows of flattened images (batch, side*side), draws for
each image a fair coin from ``rng``, and returns the images with the heads mirrored left-right
(pixel (r, q) read from (r, side - 1 - q)), in a buffer it reuses for the next batch. A mirrored
shirt is still a shirt; a mirrored 2 is not a 2, so this suits clothes, not digits.

``chain(first, second)`` applies one augmentation after the other, with the same ``rng``.
"""

from collections.abc import Callable

import numpy as np

from scratchnn.buffers import RowBuffer

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]  # (batch rows, rng) -> rows


class RandomFlip:
    """Mirror each of a batch of (batch, side*side) images left-right with probability 1/2."""

    def __init__(self, side: int = 28) -> None:
        if side < 1:
            raise ValueError(f"side={side} is not allowed: it must be >= 1")
        self.side = side
        self._buffers: dict[np.dtype, RowBuffer] = {}

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # x: (batch, side*side) -> (batch, side*side), in a buffer reused by the next call
        batch, side = len(x), self.side
        heads = rng.random(batch) < 0.5  # (batch,) which images to mirror
        if x.dtype not in self._buffers:
            self._buffers[x.dtype] = RowBuffer(side * side, x.dtype)
        out = self._buffers[x.dtype].take(batch)
        images, flipped = x.reshape(batch, side, side), out.reshape(batch, side, side)
        np.copyto(flipped, images[:, :, ::-1])  # every image mirrored: (batch, side, side)
        np.copyto(flipped, images, where=~heads[:, None, None])  # the tails put back
        return out


def chain(first: Augment, second: Augment) -> Augment:
    """``second(first(x, rng), rng)``: one augmentation after the other."""

    def both(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return second(first(x, rng), rng)

    return both
