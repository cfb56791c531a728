"""Save and load a network: its architecture travels with its weights, in one ``.npz`` file.

The file holds, beside the arrays, ``architecture``: the JSON of ``network.describe()`` (layer
types and settings, input shape, dtype) as a NumPy string, so ``np.load(allow_pickle=False)``
reads it. The arrays are each layer's parameters and state under ``layer{i}_{name}``, where i
counts the layers that hold arrays (1, 2, ...): ``layer1_weights`` (5, 5, 1, 16) of a first
convolution, ``layer3_running_mean`` of a batch norm. An MLP's are exactly the original script's
``layer{i}_weights`` (n_in, n_out) / ``layer{i}_biases`` (1, n_out). A container's arrays
carry its prefixed names: ``layer3_0.weights`` of a residual block's first layer,
``layer3_shortcut.1.running_var`` of its projection's batch norm; the architecture's nested
``layers`` rebuild it.

Files without ``architecture`` (written before it existed) and the original's folders of
``.npy`` files load as the ReLU MLP they hold (see ``original_layout``).
"""

import json
import math
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from scratchnn.builder import layers_from_specs, network_from_layers
from scratchnn.errors import LayerSpecError, WeightsError
from scratchnn.layers import Dense
from scratchnn.network import Network
from scratchnn.original_layout import (
    LAYER_FILE_SUFFIX,
    network_from_arrays,
    read_layer_files,
    save_layer_files,
    weight_arrays,
)

ARCHITECTURE_KEY = "architecture"
FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

__all__ = [
    "ARCHITECTURE_KEY",
    "WeightsError",
    "layer_arrays",
    "load_weights",
    "network_from_arrays",
    "network_from_description",
    "save_layer_files",
    "save_weights",
    "weight_arrays",
]


def _array_layers(network: Network) -> list[tuple[int, int, dict[str, tuple[int, ...]]]]:
    """``(i, index in network.layers, {name: shape})`` of each layer that holds arrays."""
    found = []
    for index, layer in enumerate(network.layers):
        shapes = {**layer.param_shapes(), **layer.state_shapes()}
        if shapes:
            found.append((len(found) + 1, index, shapes))
    return found


def layer_arrays(network: Network) -> dict[str, np.ndarray]:
    """``{"layer1_weights": ..., "layer1_biases": ..., ...}``: every parameter and state array."""
    arrays = {}
    for i, index, shapes in _array_layers(network):
        layer = network.layers[index]
        for name in shapes:
            arrays[f"layer{i}_{name}"] = {**layer.params, **layer.state}[name]
    return arrays


def save_weights(network: Network, file: str | Path | BinaryIO) -> None:
    """Write the architecture and the arrays to ``file`` (a path or a binary file) as ``.npz``."""
    description = np.array(json.dumps(network.describe()))  # a 0-d unicode array: no pickle
    np.savez(file, **layer_arrays(network), **{ARCHITECTURE_KEY: description})


def _description(arrays: dict[str, np.ndarray], source: str) -> dict[str, Any]:
    try:
        description = json.loads(str(arrays[ARCHITECTURE_KEY]))
    except json.JSONDecodeError as error:
        raise WeightsError(f"{source}: {ARCHITECTURE_KEY} is not valid JSON ({error})") from None
    if not isinstance(description, dict):
        raise WeightsError(f"{source}: {ARCHITECTURE_KEY} is not a JSON object")
    missing = [key for key in ("input_shape", "dtype", "layers") if key not in description]
    if missing:
        raise WeightsError(f"{source}: {ARCHITECTURE_KEY} lacks {', '.join(missing)}")
    return description


def _check_sizes(
    network: Network, source: str, n_inputs: int | None, n_outputs: int | None
) -> None:
    """Refuse a network whose input or output size is not the caller's, in the words of the
    original layout's checks when the layer concerned is a dense one."""
    array_layers = _array_layers(network)
    n_in = math.prod(network.input_shape)
    if n_inputs is not None and n_in != n_inputs:
        i, index, shapes = array_layers[0]
        if isinstance(network.layers[index], Dense) and index == 0:
            raise WeightsError(
                f"{source}: layer{i}_weights has shape {shapes['weights']}, "
                f"expected ({n_inputs}, *) for inputs of {n_inputs} values"
            )
        raise WeightsError(
            f"{source}: the network takes inputs of shape {network.input_shape} ({n_in} values), "
            f"expected {n_inputs} values"
        )
    if n_outputs is not None and network.n_outputs != n_outputs:
        i, index, shapes = array_layers[-1]
        last = network.layers[index]
        if isinstance(last, Dense) and index == len(network.layers) - 1:
            raise WeightsError(
                f"{source}: layer{i}_weights has shape {shapes['weights']}, "
                f"expected ({last.n_in}, {n_outputs}) for {n_outputs} classes"
            )
        raise WeightsError(
            f"{source}: the last layer, layers[{len(network.layers) - 1}] "
            f"({network.layers[-1].type_name}), gives {network.n_outputs} outputs, "
            f"expected {n_outputs} for {n_outputs} classes"
        )


def network_from_description(
    arrays: dict[str, np.ndarray],
    source: str,
    dtype: np.dtype | type | None = None,
    *,
    n_inputs: int | None = None,
    n_outputs: int | None = None,
) -> Network:
    """Rebuild the network ``arrays[ARCHITECTURE_KEY]`` describes and fill in its arrays,
    checking each one's shape; errors name the file, the array, the layer and the shapes."""
    description = _description(arrays, source)
    wanted = description["dtype"] if dtype is None else dtype
    if wanted not in ("float32", "float64", np.float32, np.float64, *FLOATS):
        raise WeightsError(
            f"{source}: {ARCHITECTURE_KEY}.dtype {wanted!r} is not float32 or float64"
        )
    try:
        layers = layers_from_specs(description["layers"], f"{ARCHITECTURE_KEY}.layers")
        network = network_from_layers(
            layers, description["input_shape"], np.dtype(wanted), f"{ARCHITECTURE_KEY}.layers"
        )
    except (LayerSpecError, TypeError, ValueError, OverflowError, MemoryError) as error:
        # MemoryError: a layer of 10**12 units, say, which no file's arrays could fill
        raise WeightsError(f"{source}: {error}") from None
    _check_sizes(network, source, n_inputs, n_outputs)
    expected = set()
    for i, index, shapes in _array_layers(network):
        layer = network.layers[index]
        views = {**layer.params, **layer.state}
        for name, shape in shapes.items():
            key = f"layer{i}_{name}"
            expected.add(key)
            what = f"layers[{index}] ({layer.type_name})"
            if key not in arrays:
                raise WeightsError(f"{source}: {key} is missing: {what} needs {name} {shape}")
            array = arrays[key]
            if array.shape != shape or array.dtype.kind != "f":
                raise WeightsError(
                    f"{source}: {key} has shape {array.shape} dtype {array.dtype}, expected "
                    f"{shape} float for {what} on inputs {layer.input_shape}"
                )
            views[name][...] = array
    unexpected = sorted(set(arrays) - expected - {ARCHITECTURE_KEY})
    if unexpected:
        name = unexpected[0] if unexpected[0].isidentifier() else repr(unexpected[0])
        raise WeightsError(f"{source}: {name} belongs to no layer of the architecture")
    return network


MAX_ARRAY_BYTES = 1 << 30  # 1 GiB: a hundred times the largest recipe's weights


def _refuse_zip_bombs(path: Path) -> None:
    """Refuse a member that would unpack to more than ``MAX_ARRAY_BYTES``, by the size the zip
    declares, before anything is unpacked (a few MB of zeros can unpack to gigabytes)."""
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            if member.file_size > MAX_ARRAY_BYTES:
                raise WeightsError(
                    f"{path}: {member.filename} unpacks to {member.file_size:,} bytes, more than "
                    f"the {MAX_ARRAY_BYTES:,} a weights array may have"
                )


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        _refuse_zip_bombs(path)
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except FileNotFoundError:
        raise WeightsError(f"{path}: no such weights file") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, MemoryError) as error:
        raise WeightsError(f"{path}: not a readable .npz weights file ({error})") from None


def load_weights(
    path: str | Path,
    dtype: np.dtype | type | None = None,
    *,
    n_inputs: int | None = None,
    n_outputs: int | None = None,
) -> Network:
    """Load a network from an ``.npz`` written by ``save_weights`` (any architecture), an older
    one without ``architecture``, or a folder in the original layout (``layer{i}_weights.npy``
    ...; see ``original_layout.save_layer_files``).

    ``dtype`` defaults to the file's: the original float64 weights load bit for bit.
    ``n_inputs`` / ``n_outputs`` are what the caller's data needs (784 pixels, 10 classes): a
    file that does not fit is refused, naming the layer, its shape and the one expected.
    """
    path = Path(path)
    if path.is_dir():
        arrays, suffix = read_layer_files(path), LAYER_FILE_SUFFIX
    else:
        arrays, suffix = _read_npz(path), ""
        if ARCHITECTURE_KEY in arrays:
            return network_from_description(
                arrays, str(path), dtype, n_inputs=n_inputs, n_outputs=n_outputs
            )
    return network_from_arrays(
        arrays, str(path), dtype, n_inputs=n_inputs, n_outputs=n_outputs, suffix=suffix
    )
