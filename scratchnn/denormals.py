"""Flushing subnormal ("denormal") numbers to zero, which NumPy cannot ask the CPU to do.

A float32 below ``tiny = 2**-126`` (about 1.2e-38) in magnitude is stored with fewer significant
bits, and many CPUs take a slow path, often tens of times slower, for every operation that reads
or writes one. Training makes them: the weights of pixels that are zero in every image (MNIST's
border) feel only the weight decay, so they shrink geometrically, and Adam's first moment ``m``
follows them down until thousands of its entries are subnormal. Compilers offer a
flush-to-zero mode for this; NumPy does not expose it, so the optimiser does it explicitly.
"""

import numpy as np


class DenormalFlusher:
    """Set every entry of an array whose magnitude is below ``tiny`` to zero, in place.

    It works on one array shape and dtype, with its work arrays allocated once:
    ``|x|`` goes into a float buffer, ``|x| < tiny`` into a boolean one, then a masked copy.
    Only subnormal entries change, so a flushed ``m`` differs from the exact one by less than
    1.2e-38 (float32) per entry: nothing a learning rate can turn into a visible step.
    """

    def __init__(self, like: np.ndarray) -> None:
        self.tiny = np.finfo(like.dtype).tiny  # the smallest normal number of the dtype
        self._magnitude = np.empty_like(like)
        self._subnormal = np.empty(like.shape, dtype=np.bool_)

    def __call__(self, array: np.ndarray) -> None:
        np.abs(array, out=self._magnitude)
        np.less(self._magnitude, self.tiny, out=self._subnormal)
        np.copyto(array, 0, where=self._subnormal)  # zeros stay zeros; subnormals become zeros
