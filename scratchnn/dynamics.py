"""Per-layer dynamics: what is happening inside each layer while the network trains.

What experienced people look at when a network does not learn (CS231n, "babysitting the
learning process"; Karpathy, "A Recipe for Training Neural Networks"), per layer and per epoch:

- layers with parameters: the weights' norm ``|θ|``, the gradient's norm ``|g|`` and the
  update-to-weight ratio ``|Δθ| / |θ|`` of one optimiser step (about 1e-3 is healthy: much
  smaller and the layer hardly moves, much larger and it forgets what it learned);
- every activation (and each layer with parameters, before its activation): the mean and the
  standard deviation of its output;
- ReLU (and leaky ReLU): the fraction of dead units, those never positive on any image of a
  sample; sigmoid and tanh: the fraction of saturated outputs (beyond 0.99 of their range),
  where the gradient all but vanishes;
- batch norm: the mean of its running mean and of its running variance over the channels;
- attention: the entropy of its weights, in nats, averaged over images, heads and tokens:
  ln T when every token attends evenly to all T, 0 when each looks at one token only.

The gradient and update statistics are averaged over a sample of the epoch's batches (about
``SAMPLED_BATCHES``), the activations measured at the epoch's end in evaluation mode on a fixed
sample of images. Nothing here draws from the training generator or writes to the parameters or
the state: training's arithmetic, and so its weights, are the same whether it watches or not.
"""

import math
from collections import defaultdict

import numpy as np

from scratchnn.layer_paths import layer_name, watching
from scratchnn.layers.base import Layer
from scratchnn.network import Network

SAMPLED_BATCHES = 10  # of each epoch, about this many are measured
DEAD_TYPES = ("relu", "leaky_relu")
SATURATING = {"sigmoid": (0.01, 0.99), "tanh": (-0.99, 0.99)}  # below / above: saturated
ACTIVATION_TYPES = (*DEAD_TYPES, *SATURATING, "gelu")


def output_statistics(layer: Layer, y: np.ndarray) -> dict[str, float]:
    """What one layer's output ``y`` (sample, ...) says: the statistics that apply to its type."""
    found: dict[str, float] = {}
    if layer.type_name in ACTIVATION_TYPES or layer.param_shapes():
        found["mean"], found["std"] = float(y.mean()), float(y.std())
    if layer.type_name in DEAD_TYPES:
        found["dead_fraction"] = float(np.mean(~(y > 0).any(axis=0)))
    if layer.type_name in SATURATING:
        low, high = SATURATING[layer.type_name]
        found["saturated_fraction"] = float(np.mean((y < low) | (y > high)))
    weights = getattr(layer, "attention_weights", None)  # (sample, heads, T, T), rows sum to 1
    if weights is not None:
        found["attention_entropy"] = float(-(weights * np.log(weights + 1e-30)).sum(-1).mean())
    for name in ("running_mean", "running_var"):
        if name in layer.state:
            found[name] = float(layer.state[name].mean())
    return found


class LayerDynamics:
    """Watches ``network`` train. Call ``on_batch_end(done, total)`` after every optimiser step
    (``fit``'s callback of that name) and ``epoch_end()`` after each epoch for its statistics,
    by metric name: ``{"layers/0_dense/update_ratio": ..., "layers/1_relu/dead_fraction": ...}``.
    ``sample`` (n, *input_shape) are the images the activations are measured on."""

    def __init__(self, network: Network, sample: np.ndarray) -> None:
        self.network, self.sample = network, sample
        self._slices: dict[str, slice] = {}  # each top layer's part of the flat buffers
        at = 0
        for i, layer in enumerate(network.layers):
            size = sum(math.prod(shape) for shape in layer.param_shapes().values())
            if size:
                self._slices[layer_name(i, layer)] = slice(at, at + size)
            at += size
        self._before = network.params.copy()  # the weights before the next step
        self._have_before = True
        self._sums: dict[str, float] = defaultdict(float)
        self._measured = 0

    def _sampled(self, batch: int, total: int) -> bool:
        """Whether the step of batch ``batch`` (1-based) of ``total`` is measured."""
        return batch % max(1, total // SAMPLED_BATCHES) == 0

    def on_batch_end(self, done: int, total: int) -> None:
        params, grads = self.network.params, self.network.grads
        if self._sampled(done, total) and self._have_before:
            for name, part in self._slices.items():
                weight = float(np.linalg.norm(self._before[part]))
                update = float(np.linalg.norm(params[part] - self._before[part]))
                self._sums[f"{name}/grad_norm"] += float(np.linalg.norm(grads[part]))
                self._sums[f"{name}/update_ratio"] += update / weight if weight else math.nan
            self._measured += 1
        following = (
            done % total + 1
        )  # the next step's batch (the next epoch's first after the last)
        self._have_before = self._sampled(following, total)
        if self._have_before:
            np.copyto(self._before, params)

    def epoch_end(self) -> dict[str, float]:
        """This epoch's statistics by metric name (``layers/<i>_<type>/<statistic>``)."""
        found = {
            f"layers/{key}": value / max(self._measured, 1) for key, value in self._sums.items()
        }
        for name, part in self._slices.items():
            found[f"layers/{name}/weight_norm"] = float(np.linalg.norm(self.network.params[part]))

        def measure(name: str, layer: Layer, x: np.ndarray, y: np.ndarray) -> None:
            for key, value in output_statistics(layer, y).items():
                found[f"layers/{name}/{key}"] = value

        with watching(self.network.layers, measure):
            self.network.forward(self.sample)
        self._sums.clear()
        self._measured = 0
        return dict(sorted(found.items(), key=lambda item: _layer_order(item[0])))


def _layer_order(key: str) -> tuple[int, str]:
    """``layers/10_dense/std`` after ``layers/9_relu/...``: by layer index, then by name."""
    name = key.split("/")[1]
    return int(name.split("_", 1)[0]), key
