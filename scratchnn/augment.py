"""Data augmentation: random shifts, small rotations and zooms of square images, a batch at a time.

``RandomShiftRotate(max_shift=2, max_degrees=10, max_scale=0.1)(x, rng)`` takes rows of
flattened images (batch, side*side), draws for each image a shift of up to ``max_shift`` pixels
along each axis (an angle of up to ``max_degrees`` either way, and a zoom factor ``z`` in
[1 - max_scale, 1 + max_scale]) from ``rng``, and returns the moved images in a buffer it reuses
for the next batch. Pixels that come from outside the image are 0.

Every output pixel (r, q) is read from the input at the point that lands on it:

    (sy, sx) = R(angle)^T ((r, q) - centre) / z + centre - (dy, dx)

an integer point for a pure shift (a gather: exact), anywhere for a rotation or a zoom (bilinear
interpolation of the 4 pixels around it, or the nearest one). ``z`` > 1 enlarges the image
about its centre, ``z`` < 1 shrinks it. The whole batch is done with
a few whole-array operations on (batch, side*side) arrays, vectorised over images and pixels.
"""

import math

import numpy as np

from scratchnn.buffers import RowBuffer

INTERPOLATIONS = ("bilinear", "nearest")


class RandomShiftRotate:
    """Random shifts of up to ``max_shift`` pixels, rotations of up to ``max_degrees`` degrees
    either way and zooms by up to ``max_scale`` (a fraction of the size) either way, of
    (batch, side*side) rows of sidexside images; see the module."""

    def __init__(
        self,
        max_shift: int = 2,
        max_degrees: float = 0.0,
        side: int = 28,
        interpolation: str = "bilinear",
        max_scale: float = 0.0,
    ) -> None:
        if max_shift < 0 or max_shift >= side:
            raise ValueError(f"max_shift={max_shift} is not allowed: it must be in [0, {side})")
        if not 0 <= max_degrees <= 180:
            raise ValueError(f"max_degrees={max_degrees} is not allowed: it must be in [0, 180]")
        if not 0 <= max_scale < 1:
            raise ValueError(f"max_scale={max_scale} is not allowed: it must be in [0, 1)")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation={interpolation!r}: one of {INTERPOLATIONS}")
        self.max_shift, self.max_degrees = max_shift, float(max_degrees)
        self.max_scale = float(max_scale)
        self.side, self.interpolation = side, interpolation
        self._buffers: dict[str, RowBuffer] = {}
        rows, cols = np.divmod(np.arange(side * side), side)  # (side*side,) each
        self._pixel_rows, self._pixel_cols = rows, cols

    def _take(
        self, name: str, rows: int, shape: int | tuple[int, ...], dtype: np.dtype
    ) -> np.ndarray:
        """The reused work array ``name``: (rows, *shape) of ``dtype``. The padded images are
        allocated filled with zeros, and only their inside is ever written: a zero border."""
        key = f"{name} {dtype}"
        if key not in self._buffers:
            fill = 0.0 if name == "padded" else None
            self._buffers[key] = RowBuffer(shape, dtype, fill)
        return self._buffers[key].take(rows)

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # x: (batch, side*side) -> (batch, side*side), in a buffer reused by the next call
        # draws: shifts, then angles, then zooms, each only when asked for (so a setting left
        # at 0 leaves the others' draws as they were)
        batch, n, degrees, scale = len(x), self.max_shift, self.max_degrees, self.max_scale
        if n == 0 and degrees == 0 and scale == 0:
            return x
        shifts = rng.integers(-n, n + 1, size=(batch, 2)) if n else np.zeros((batch, 2), np.int64)
        if degrees == 0 and scale == 0:
            return self._shift(x, shifts)
        angles = (
            rng.uniform(-degrees, degrees, size=batch) * (math.pi / 180)
            if degrees
            else np.zeros(batch)
        )
        zooms = rng.uniform(1 - scale, 1 + scale, size=batch) if scale else None
        return self._rotate(x, shifts, angles, zooms)

    def _padded(self, x: np.ndarray, pad: int) -> tuple[np.ndarray, int]:
        """The images inside ``pad`` zeros (batch, side + 2 pad, side + 2 pad), flattened."""
        batch, side = len(x), self.side
        width = side + 2 * pad
        padded = self._take("padded", batch, (width, width), x.dtype)
        padded[:, pad : pad + side, pad : pad + side] = x.reshape(batch, side, side)
        return padded.reshape(-1), width

    def _shift(self, x: np.ndarray, shifts: np.ndarray) -> np.ndarray:
        # out[b, r, q] = image[b, r - dy, q - dx] = padded[b, r - dy + n, q - dx + n]
        batch, n = len(x), self.max_shift
        flat, width = self._padded(x, n)
        start = np.arange(batch) * width * width + (n - shifts[:, 0]) * width + (n - shifts[:, 1])
        index = self._take("index", batch, x.shape[1], np.dtype(np.int64))
        np.add(start[:, None], self._pixel_rows * width + self._pixel_cols, out=index)
        return np.take(flat, index, out=self._take("out", batch, x.shape[1], x.dtype), mode="clip")

    def _rotate(
        self, x: np.ndarray, shifts: np.ndarray, angles: np.ndarray, zooms: np.ndarray | None
    ) -> np.ndarray:
        batch, side, pixels, dtype = len(x), self.side, x.shape[1], x.dtype
        flat, width = self._padded(x, 2)  # 2 zeros around: every clipped corner stays inside
        centre = (side - 1) / 2
        cos, sin = np.cos(angles), np.sin(angles)  # (batch,) each: R(angle)^T / z's entries
        if zooms is not None:
            cos, sin = cos / zooms, sin / zooms
        cos, sin = cos.astype(dtype)[:, None], sin.astype(dtype)[:, None]
        up, right = (
            (self._pixel_rows - centre).astype(dtype),
            (self._pixel_cols - centre).astype(dtype),
        )
        sy, sx, work = (self._take(name, batch, pixels, dtype) for name in ("sy", "sx", "work"))
        for source, a, b, shift in ((sy, cos, sin, shifts[:, 0]), (sx, -sin, cos, shifts[:, 1])):
            np.multiply(a, up, out=source)  # sy = cos * up + sin * right + centre - dy
            np.multiply(b, right, out=work)  # sx = -sin * up + cos * right + centre - dx
            source += work
            source += (centre - shift).astype(dtype)[:, None]
            np.maximum(source, -1, out=source)  # outside the image: onto the zero border
            np.minimum(source, side, out=source)
        if self.interpolation == "nearest":
            np.rint(sy, out=sy)
            np.rint(sx, out=sx)
        index = self._take("index", batch, pixels, np.dtype(np.int64))
        corner = self._take("corner", batch, pixels, np.dtype(np.int64))
        np.floor(sy, out=work)
        np.copyto(index, work, casting="unsafe")  # the row above the point (or the point)
        sy -= work  # the weight of the row below
        np.floor(sx, out=work)
        np.copyto(corner, work, casting="unsafe")
        sx -= work  # the weight of the column to the right
        index += 2
        index *= width
        index += corner
        index += (np.arange(batch) * width * width + 2)[:, None]
        out = self._take("out", batch, pixels, dtype)
        np.take(flat, index, out=out, mode="clip")  # top left
        if self.interpolation == "nearest":
            return out
        top_right, bottom_left = self._take("b", batch, pixels, dtype), work
        np.take(flat[1:], index, out=top_right, mode="clip")
        top_right -= out
        top_right *= sx
        out += top_right  # the top edge at sx
        bottom = self._take("c", batch, pixels, dtype)
        np.take(flat[width:], index, out=bottom_left, mode="clip")
        np.take(flat[width + 1 :], index, out=bottom, mode="clip")
        bottom -= bottom_left
        bottom *= sx
        bottom += bottom_left  # the bottom edge at sx
        bottom -= out
        bottom *= sy
        out += bottom
        return out
