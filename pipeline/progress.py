"""A progress bar inside each epoch, for long epochs on a terminal.

On a terminal (stderr is a TTY) each epoch draws a bar over its batches, removed when the epoch
ends and its one-line summary is printed. Anywhere else (DVC's logs, CI, a pipe) nothing is
drawn, so logs keep exactly one line per epoch.
"""

import sys
from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm


class EpochBar:
    """``on_batch_end(done, total)`` for ``scratchnn.fit``: one bar per epoch, on ``stream``."""

    def __init__(self, epochs: int, first_epoch: int = 1, stream: TextIO | None = None) -> None:
        self.epochs = epochs
        self.epoch = first_epoch - 1
        self.stream = stream or sys.stderr
        self._bar: tqdm | None = None

    def __call__(self, done: int, total: int) -> None:
        if done == 1:
            self.epoch += 1
            self._bar = tqdm(
                total=total,
                desc=f"epoch {self.epoch}/{self.epochs}",
                unit="batch",
                leave=False,
                file=self.stream,
                mininterval=0.2,
                dynamic_ncols=True,
            )
        if self._bar is not None:
            self._bar.update(done - self._bar.n)
            if done == total:
                self._bar.close()
                self._bar = None


def batch_progress(epochs: int, first_epoch: int = 1) -> Callable[[int, int], None] | None:
    """A bar on a terminal; None (no per-batch calls at all) when stderr is not one."""
    return EpochBar(epochs, first_epoch) if sys.stderr.isatty() else None
