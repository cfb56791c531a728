"""Save and load a network's weights as one ``.npz`` file.

The file holds ``layer{i}_weights`` (n_in, n_out) and ``layer{i}_biases`` (1, n_out) for
i = 1, 2, ...: the names and layout of the original script's per-layer ``.npy`` files.
Loading never unpickles (``allow_pickle=False``).
"""

import re
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from scratchnn.network import Network, mlp

_KEY = re.compile(r"layer(\d+)_(weights|biases)")


class WeightsError(ValueError):
    """A weights file that cannot be loaded; the message names the file and the layer."""


def weight_arrays(network: Network) -> dict[str, np.ndarray]:
    """``{"layer1_weights": W1, "layer1_biases": b1, ...}`` (copies)."""
    arrays = {}
    for i, layer in enumerate(network.dense_layers, start=1):
        arrays[f"layer{i}_weights"] = layer.W.copy()
        arrays[f"layer{i}_biases"] = layer.b.copy()
    return arrays


def save_weights(network: Network, file: str | Path | BinaryIO) -> None:
    """Write the weights to ``file`` (a path or a binary file object) as ``.npz``."""
    np.savez(file, **weight_arrays(network))


def network_from_arrays(
    arrays: dict[str, np.ndarray], source: str, dtype: np.dtype | type | None = None
) -> Network:
    """Build an MLP from ``layer{i}_weights``/``layer{i}_biases`` arrays, checking every shape."""
    layers = sorted({int(m.group(1)) for key in arrays if (m := _KEY.fullmatch(key))})
    if not layers:
        raise WeightsError(f"{source}: no layer1_weights / layer1_biases arrays found")
    if layers != list(range(1, len(layers) + 1)):
        missing = sorted(set(range(1, max(layers) + 1)) - set(layers))
        raise WeightsError(f"{source}: layer{missing[0]} is missing (found layers {layers})")
    sizes = []
    for i in layers:
        for part in ("weights", "biases"):
            if f"layer{i}_{part}" not in arrays:
                raise WeightsError(f"{source}: layer{i}_{part} is missing")
        weights, biases = arrays[f"layer{i}_weights"], arrays[f"layer{i}_biases"]
        if weights.ndim != 2 or weights.dtype.kind != "f":
            raise WeightsError(
                f"{source}: layer{i}_weights must be a 2-D float array (n_in, n_out), "
                f"got shape {weights.shape} dtype {weights.dtype}"
            )
        n_in, n_out = weights.shape
        if sizes and n_in != sizes[-1]:
            raise WeightsError(
                f"{source}: layer{i}_weights has shape {weights.shape}, expected ({sizes[-1]}, *) "
                f"to follow layer{i - 1}'s {sizes[-1]} outputs"
            )
        if biases.shape != (1, n_out) or biases.dtype.kind != "f":
            raise WeightsError(
                f"{source}: layer{i}_biases has shape {biases.shape} dtype {biases.dtype}, "
                f"expected (1, {n_out}) float"
            )
        sizes += [n_in, n_out] if not sizes else [n_out]
    dtype = np.dtype(dtype or arrays["layer1_weights"].dtype)
    network = mlp(sizes, rng=np.random.default_rng(0), dtype=dtype)
    for i, layer in enumerate(network.dense_layers, start=1):
        layer.W[...] = arrays[f"layer{i}_weights"]
        layer.b[...] = arrays[f"layer{i}_biases"]
    return network


def load_weights(path: str | Path, dtype: np.dtype | type | None = None) -> Network:
    """Load a network saved by ``save_weights``; ``dtype`` defaults to the file's."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except FileNotFoundError:
        raise WeightsError(f"{path}: no such weights file") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise WeightsError(f"{path}: not a readable .npz weights file ({error})") from None
    return network_from_arrays(arrays, str(path), dtype)
