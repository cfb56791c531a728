"""Learning-rate schedules: ``schedule(epoch) -> lr``, with epochs counted from 0.

The learning rate is set once per epoch, as in the original script.
"""

import math
from collections.abc import Callable

Schedule = Callable[[int], float]


def constant(lr0: float) -> Schedule:
    """``lr = lr0`` at every epoch."""
    return lambda epoch: lr0


def inverse_time_decay(lr0: float, decay: float) -> Schedule:
    """``lr = lr0 / (1 + decay * epoch)``: the original script's schedule
    (it used ``decay = lr0 / epochs``)."""
    return lambda epoch: lr0 / (1 + decay * epoch)


def step_decay(lr0: float, step_size: int, gamma: float) -> Schedule:
    """``lr = lr0 * gamma ** (epoch // step_size)``: multiply by gamma every step_size epochs."""
    return lambda epoch: lr0 * gamma ** (epoch // step_size)


def exponential_decay(lr0: float, gamma: float) -> Schedule:
    """``lr = lr0 * gamma ** epoch``."""
    return lambda epoch: lr0 * gamma**epoch


def cosine_decay(lr0: float, epochs: int, min_lr: float = 0.0) -> Schedule:
    """``lr = min_lr + (lr0 - min_lr) * (1 + cos(pi * epoch / epochs)) / 2``:
    half a cosine from lr0 at epoch 0 towards min_lr at epoch ``epochs``."""
    return lambda epoch: min_lr + (lr0 - min_lr) * (1 + math.cos(math.pi * epoch / epochs)) / 2
