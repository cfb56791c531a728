"""Any picture of a digit framed as MNIST framed its digits (LeCun et al.): the ink's bounding
box scaled, keeping its proportions, so that its longer side is 20 pixels, then placed in a
28x28 black frame with its centre of mass at the centre. A network trained on MNIST has only
ever seen digits framed like that. ``predict --image`` and the drawing page both use it.
"""

import numpy as np
from PIL import Image

from pipeline.data.image_csv import DataError

SIDE = 28  # MNIST: 28x28 pixels, row-major
DIGIT_BOX = 20  # MNIST scaled each digit to fit 20x20, then centred its mass in the 28x28 frame


def frame_digit(grey: np.ndarray, background: float = 0.0) -> np.ndarray:
    """A (h, w) picture of light ink on a dark ``background`` (values in [0, 1]) as a (28, 28)
    MNIST digit in [0, 1]: the background subtracted and the contrast stretched to 0..1, the
    ink's bounding box cropped, scaled (Lanczos) so its longer side is 20 pixels, and centred
    by its mass. A picture where no ink stands out is a ``DataError``."""
    peak = float(grey.max())
    if peak - background < 0.1:
        raise DataError("the image looks blank: no digit stands out from the background")
    ink = np.clip((grey - background) / (peak - background), 0.0, 1.0)
    rows, cols = np.nonzero(ink > 0.1)
    ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    height, width = ink.shape
    scale = DIGIT_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = Image.fromarray(ink.astype(np.float32)).resize(size, Image.Resampling.LANCZOS)
    digit = np.clip(np.asarray(small, dtype=np.float64), 0.0, 1.0)
    # centre of mass -> (14, 14), clamped so the digit stays inside the frame
    r_mass, c_mass = (np.indices(digit.shape) * digit).reshape(2, -1).sum(axis=1) / digit.sum()
    top = int(np.clip(round(SIDE / 2 - 0.5 - r_mass), 0, SIDE - digit.shape[0]))
    left = int(np.clip(round(SIDE / 2 - 0.5 - c_mass), 0, SIDE - digit.shape[1]))
    frame = np.zeros((SIDE, SIDE))
    frame[top : top + digit.shape[0], left : left + digit.shape[1]] = digit
    return frame
