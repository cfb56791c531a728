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


def linear_warmup(schedule: Schedule, warmup_epochs: int) -> Schedule:
    """``warmup_epochs`` epochs rising in equal steps towards ``lr0 = schedule(0)``, then
    ``schedule`` from its own epoch 0:

        lr = lr0 * (epoch + 1) / (warmup_epochs + 1)     for epoch < warmup_epochs
        lr = schedule(epoch - warmup_epochs)             afterwards

    so 4 warm-up epochs before lr0 = 0.1 use 0.02, 0.04, 0.06, 0.08, and the fifth epoch 0.1.
    A decay with a horizon (``cosine_decay``'s ``epochs``) then wants the epochs left after the
    warm-up. Large steps at the start, while Adam's moments and batch norm's statistics are
    still rough, are what the warm-up avoids (Goyal et al., 2017)."""
    if warmup_epochs < 0:
        raise ValueError(f"warmup_epochs={warmup_epochs}: it must be >= 0")

    def warmed_up(epoch: int) -> float:
        if epoch < warmup_epochs:
            return schedule(0) * (epoch + 1) / (warmup_epochs + 1)
        return schedule(epoch - warmup_epochs)

    return warmed_up
