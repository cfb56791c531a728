"""What the new families do with one image, for ``activations.png``: where each attention head
looks, and how a residual block splits its output between its branch and its shortcut.

- attention: per head, how much the first token (the class token, when there is one) takes from
  each patch, drawn over the grid of patches; without a class token, the average over tokens;
- a residual block (at the network's top level): its branch ``f(x)``, its shortcut (``x``, or
  the projection's output) and their sum ``y``, each a map averaged over the channels.

(An LSTM's hidden state over the rows is its output sequence, which ``activations.png`` already
draws as an image, a row per step.)
"""

import math

import numpy as np

import scratchnn as sn
from scratchnn.layer_paths import named_layers, watching

Row = tuple[str, list[tuple[str, np.ndarray]]]  # a label, and (title, 2-D map) panels


def as_map(values: np.ndarray) -> np.ndarray:
    """One panel of a layer's output for one image: (h, w, c) averaged over the channels; a
    sequence (T, D) as it is."""
    return values.mean(axis=-1) if values.ndim == 3 else values


def attention_map(weights: np.ndarray) -> np.ndarray:
    """(T, T) weights of one head as the patch grid the first token looks at (or, when the
    tokens are the patches only, the average over tokens)."""
    t = weights.shape[0]
    side = math.isqrt(t - 1)
    if side * side == t - 1:  # a class token in front of side x side patches
        return weights[0, 1:].reshape(side, side)
    side = math.isqrt(t)
    return weights.mean(axis=0).reshape(side, side) if side * side == t else weights


def body_end(named: list[tuple[str, sn.Layer]], block: str) -> str:
    """The name of the last layer of a residual block's branch (not of its shortcut)."""
    body = [n for n, _ in named if n.startswith(f"{block}.") and n.count(".") == 1]
    return max(body, key=lambda n: int(n.split(".")[1].split("_", 1)[0]))


def block_rows(network: sn.Network, image: np.ndarray) -> list[Row]:
    """The rows to add to the per-layer view, in the network's order (none for a network
    without attention or residual blocks)."""
    named = named_layers(network.layers)
    residuals = [name for name, layer in named if layer.type_name == "residual" and "." not in name]
    outputs: dict[str, np.ndarray] = {}
    rows: list[Row] = []

    def keep(name: str, layer: sn.Layer, x: np.ndarray, y: np.ndarray) -> None:
        outputs[name] = np.array(y[0], dtype=np.float64)
        weights = getattr(layer, "attention_weights", None)
        if weights is not None:
            heads = [(f"head {h}", attention_map(w)) for h, w in enumerate(weights[0])]
            rows.append((f"{name.split('.')[0]}\nattention, by head", heads))

    with watching(network.layers, keep):
        network.forward(image.reshape(1, -1).astype(network.dtype))
    for name in residuals:
        branch, y = outputs[body_end(named, name)], outputs[name]
        panels = [("branch f(x)", branch), ("shortcut", y - branch), ("sum y", y)]
        rows.append((f"{name}\nbranch + shortcut", [(t, as_map(v)) for t, v in panels]))
    return rows
