"""The original script's weights layout, for Dense -> ReLU -> ... -> Dense networks.

``layer{i}_weights`` (n_in, n_out) and ``layer{i}_biases`` (1, n_out) for i = 1, 2, ...: as
arrays in an ``.npz`` written before the architecture travelled with the weights (they load as
the ReLU MLP they are), or as the original's folder of ``.npy`` files (``layer1_weights.npy``,
``layer1_biases.npy``, ...; what its ``np.save`` calls wrote). Arrays are loaded as stored: never
transposed or reshaped to fit, never unpickled (``allow_pickle=False``), their dtype kept unless a
``dtype`` is asked for.
"""

import re
from pathlib import Path

import numpy as np

from scratchnn.builder import mlp
from scratchnn.errors import WeightsError
from scratchnn.layers import Dense, Dropout, ReLU
from scratchnn.network import Network

_KEY = re.compile(r"layer(\d+)_(weights|biases)")
LAYER_FILE_SUFFIX = ".npy"


def check_relu_mlp(network: Network) -> None:
    """Raise ``WeightsError`` unless ``network`` is what the original layout can hold: flat
    inputs, dense -> relu -> ... -> dense (dropout, the identity once trained, may come between)."""
    if len(network.input_shape) != 1:
        first = network.layers[0].type_name
        raise WeightsError(
            "the original layout holds only MLPs on flat inputs (dense -> relu -> ... -> dense), "
            f"not layers[0] ({first}) on inputs {network.input_shape}"
        )
    layers = [
        (i, layer) for i, layer in enumerate(network.layers) if not isinstance(layer, Dropout)
    ]
    pattern = [Dense, ReLU] * (len(layers) // 2) + [Dense]
    for (i, layer), expected in zip(layers, pattern, strict=False):
        if not isinstance(layer, expected):
            raise WeightsError(
                "the original layout holds dense -> relu -> ... -> dense networks only: "
                f"layers[{i}] is {layer.type_name}, where {expected.type_name} would be"
            )
    if len(layers) != len(pattern):
        raise WeightsError(f"the original layout ends with a dense layer, not {layers[-1][1]}")


def weight_arrays(network: Network) -> dict[str, np.ndarray]:
    """``{"layer1_weights": W1, "layer1_biases": b1, ...}`` (copies) of a ReLU MLP."""
    check_relu_mlp(network)
    arrays = {}
    for i, layer in enumerate(network.dense_layers, start=1):
        arrays[f"layer{i}_weights"] = layer.W.copy()
        arrays[f"layer{i}_biases"] = layer.b.copy()
    return arrays


def save_layer_files(network: Network, folder: str | Path) -> list[Path]:
    """Write the original layout into ``folder``: ``layer{i}_weights.npy`` and
    ``layer{i}_biases.npy``, one ``np.save`` per array, in the network's dtype. Returns the
    files written (the folder is created if needed; other files in it are left alone)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, array in weight_arrays(network).items():
        path = folder / f"{name}{LAYER_FILE_SUFFIX}"
        np.save(path, array, allow_pickle=False)
        written.append(path)
    return written


def _check_layer(
    i: int,
    arrays: dict[str, np.ndarray],
    source: str,
    suffix: str,
    n_in_expected: int | None,
    why: str,
) -> tuple[int, int]:
    """``(n_in, n_out)`` of layer ``i`` after checking its two arrays; errors name the layer."""
    w_name, b_name = f"layer{i}_weights{suffix}", f"layer{i}_biases{suffix}"
    for name in (w_name, b_name):
        if name.removesuffix(suffix) not in arrays:
            raise WeightsError(f"{source}: {name} is missing")
    weights, biases = arrays[f"layer{i}_weights"], arrays[f"layer{i}_biases"]
    if weights.ndim != 2 or weights.dtype.kind != "f":
        raise WeightsError(
            f"{source}: {w_name} must be a 2-D float array (n_in, n_out), "
            f"got shape {weights.shape} dtype {weights.dtype}"
        )
    n_in, n_out = weights.shape
    if n_in_expected is not None and n_in != n_in_expected:
        raise WeightsError(
            f"{source}: {w_name} has shape {weights.shape}, expected ({n_in_expected}, *) {why}"
        )
    if biases.shape != (1, n_out) or biases.dtype.kind != "f":
        raise WeightsError(
            f"{source}: {b_name} has shape {biases.shape} dtype {biases.dtype}, "
            f"expected (1, {n_out}) float to match {w_name} {weights.shape}"
        )
    return n_in, n_out


def network_from_arrays(
    arrays: dict[str, np.ndarray],
    source: str,
    dtype: np.dtype | type | None = None,
    *,
    n_inputs: int | None = None,
    n_outputs: int | None = None,
    suffix: str = "",
) -> Network:
    """Build an MLP from ``layer{i}_weights``/``layer{i}_biases`` arrays, checking every shape.

    ``n_inputs`` / ``n_outputs``, when given, are what the caller's data needs (784 pixels,
    10 classes): a file that does not fit is refused with the layer, its shape and the one
    expected. ``suffix`` is appended to array names in messages (``.npy`` for a folder).
    """
    layers = sorted({int(m.group(1)) for key in arrays if (m := _KEY.fullmatch(key))})
    if not layers:
        raise WeightsError(f"{source}: no layer1_weights{suffix} / layer1_biases{suffix} found")
    if layers != list(range(1, len(layers) + 1)):
        missing = sorted(set(range(1, max(layers) + 1)) - set(layers))
        raise WeightsError(
            f"{source}: layer{missing[0]}_weights{suffix} and layer{missing[0]}_biases{suffix} "
            f"are missing (found layers {layers})"
        )
    sizes: list[int] = []
    for i in layers:
        if sizes:
            expected, why = sizes[-1], f"to follow layer{i - 1}'s {sizes[-1]} outputs"
        else:
            expected, why = n_inputs, f"for inputs of {n_inputs} values"
        n_in, n_out = _check_layer(i, arrays, source, suffix, expected, why)
        sizes += [n_out] if sizes else [n_in, n_out]
    if n_outputs is not None and sizes[-1] != n_outputs:
        last = f"layer{layers[-1]}_weights{suffix}"
        raise WeightsError(
            f"{source}: {last} has shape {arrays[f'layer{layers[-1]}_weights'].shape}, "
            f"expected ({sizes[-2]}, {n_outputs}) for {n_outputs} classes"
        )
    dtype = np.dtype(arrays["layer1_weights"].dtype if dtype is None else dtype)
    network = mlp(sizes, rng=np.random.default_rng(0), dtype=dtype)
    for i, layer in enumerate(network.dense_layers, start=1):
        layer.W[...] = arrays[f"layer{i}_weights"]
        layer.b[...] = arrays[f"layer{i}_biases"]
    return network


def read_layer_files(folder: Path) -> dict[str, np.ndarray]:
    arrays = {}
    for path in sorted(folder.glob(f"layer*{LAYER_FILE_SUFFIX}")):
        name = path.name.removesuffix(LAYER_FILE_SUFFIX)
        if not _KEY.fullmatch(name):
            continue
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise WeightsError(f"{path}: not a readable .npy array ({error})") from None
        if not isinstance(array, np.ndarray):  # np.load gives an NpzFile for a zip
            raise WeightsError(f"{path}: not a .npy array")
        arrays[name] = array
    return arrays
