"""The errors scratchnn raises for what it is given: a layer description, a weights file.

Both are ``ValueError``s whose message says where the problem is (the layer and the key, or the
file, the array and the shapes), so a caller can show them as they are.
"""

from typing import Any


class LayerSpecError(ValueError):
    """A layer setting or shape that is not allowed. The builder adds where it is (``layers[2]``),
    so the message reads ``layers[2].kernel=0 is not allowed: ...``."""

    def __init__(self, reason: str, key: str | None = None, value: Any = None, where: str = ""):
        self.reason, self.key, self.value, self.where = reason, key, value, where
        if key is not None:
            setting = f"{where}.{key}" if where else key
            message = f"{setting}={value!r} is not allowed: {reason}"
        else:
            message = f"{where}: {reason}" if where else reason
        super().__init__(message)

    def at(self, where: str) -> "LayerSpecError":
        """The same error, located at ``where`` (e.g. ``layers[2]``)."""
        return LayerSpecError(self.reason, self.key, self.value, where)

    def within(self, where: str) -> "LayerSpecError":
        """The same error, located inside ``where``: an error at ``layers[1]`` raised within a
        block at ``layers[3]`` is at ``layers[3].layers[1]``."""
        return self.at(f"{where}.{self.where}" if self.where else where)


class WeightsError(ValueError):
    """A weights file that cannot be loaded; the message names the file and the layer."""
