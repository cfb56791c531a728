"""Elastic distortions of square images, a batch at a time (Simard, Steinkraus and Platt, 2003).

``ElasticDistortion(alpha=34, sigma=4)(x, rng)`` takes rows of flattened images
(batch, side*side) and bends each one as a hand would: every pixel moves by its own small
displacement, and neighbouring pixels move alike. For each image:

    1. draw a random field of displacements, uniform in [-1, 1], for each pixel and each axis;
    2. smooth it with a Gaussian of standard deviation ``sigma`` pixels (zeros beyond the
       border): the neighbours now agree, and the field is a gentle warp;
    3. scale it by ``alpha`` pixels and read each output pixel (r, q) from the input at
       (r + dy[r, q], q + dx[r, q]), interpolating the 4 pixels around that point (bilinear);
       points outside the image read zeros.

A small ``sigma`` gives noise, a large one a near-uniform shift; Simard et al. found sigma = 4,
alpha = 34 best for 28x28 digits. Step 2 is two products with one (side, side) matrix ``G``,
``G @ field @ G`` (the Gaussian is separable and symmetric), vectorised over the batch.
"""

import numpy as np

TRUNCATE = 4.0  # the Gaussian is cut at 4 standard deviations, as is usual


def gaussian_matrix(side: int, sigma: float) -> np.ndarray:
    """(side, side) ``G`` with ``(G @ v)[i] = sum_j g(i - j) v[j]``: the 1-D Gaussian smoothing
    of a length-``side`` signal, zeros beyond its ends (rows near the ends sum to less than 1)."""
    radius = int(TRUNCATE * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()  # (2 radius + 1,) sums to 1
    distance = np.arange(side)[:, None] - np.arange(side)[None, :]  # (side, side): i - j
    inside = np.abs(distance) <= radius
    return np.where(inside, kernel[np.clip(distance + radius, 0, 2 * radius)], 0.0)


def bilinear(images: np.ndarray, sy: np.ndarray, sx: np.ndarray) -> np.ndarray:
    """Each image of ``images`` (batch, side, side) read at the points (sy, sx) (each
    (batch, side, side), in pixels): the 4 pixels around a point weighted by its distances to
    them, zeros outside the image."""
    batch, side, _ = images.shape
    padded = np.zeros((batch, side + 3, side + 3), images.dtype)  # 1 zero before, 2 after
    padded[:, 1 : side + 1, 1 : side + 1] = images
    sy, sx = np.clip(sy, -1, side), np.clip(sx, -1, side)  # beyond: onto the zero border
    top, left = np.floor(sy), np.floor(sx)
    wy, wx = (sy - top).astype(images.dtype), (sx - left).astype(images.dtype)
    row, col = top.astype(np.intp) + 1, left.astype(np.intp) + 1  # in the padded image
    b = np.arange(batch)[:, None, None]
    top_edge = padded[b, row, col] * (1 - wx) + padded[b, row, col + 1] * wx
    bottom_edge = padded[b, row + 1, col] * (1 - wx) + padded[b, row + 1, col + 1] * wx
    return top_edge * (1 - wy) + bottom_edge * wy


class ElasticDistortion:
    """Elastic distortions of (batch, side*side) rows of sidexside images; see the module."""

    def __init__(self, alpha: float = 34.0, sigma: float = 4.0, side: int = 28) -> None:
        if alpha < 0:
            raise ValueError(f"alpha={alpha} is not allowed: it must be >= 0")
        if sigma <= 0:
            raise ValueError(f"sigma={sigma} is not allowed: it must be > 0")
        self.alpha, self.sigma, self.side = float(alpha), float(sigma), side
        self._smooth = gaussian_matrix(side, sigma)  # (side, side)
        self._rows, self._cols = np.mgrid[0:side, 0:side]  # (side, side) each

    def displacements(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        """(2, batch, side, side): the smoothed, scaled fields dy and dx."""
        side = self.side
        field = rng.uniform(-1.0, 1.0, size=(2, batch, side, side))
        return self.alpha * (self._smooth @ field @ self._smooth)  # G is symmetric: G^T = G

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # x: (batch, side*side) -> (batch, side*side), a new array
        batch, side = len(x), self.side
        dy, dx = self.displacements(batch, rng)  # (batch, side, side) each
        images = x.reshape(batch, side, side)
        return bilinear(images, self._rows + dy, self._cols + dx).reshape(batch, side * side)
