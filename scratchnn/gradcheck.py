"""Gradient checking: every layer's backward pass against central differences of its forward.

For a function ``f`` of an array ``θ``, the central difference
    df/dθ_i ≈ (f(θ + h e_i) - f(θ - h e_i)) / 2h
is accurate to O(h²) and needs nothing but forward passes, so it checks the analytic gradient
that ``backward`` computes. The check runs in float64 (in float32 the difference of two nearby
losses keeps only a few digits) on a random subset of the coordinates of each array, and
reports the largest relative error ``|a - n| / max(|a|, |n|)``: about 1e-8 or less when the
two agree, 1e-2 or more when a backward pass is wrong.

Two checks, so that a wrong gradient is pinned on the layer that computes it:
 - each layer alone, on the input the real images bring it: ``f = sum(R * layer(x))`` for a
   fixed random ``R`` of the output's shape, whose gradient with respect to ``y`` is ``R``;
   backward turns it into the gradients of the layer's parameters and of its input ``x``;
 - the whole network with its loss (softmax cross-entropy), as training sees it.

Kinks: ReLU has no derivative at 0, nor max pooling where two inputs tie, and real digits with
their blank borders hit both everywhere (a zero bias puts a blank patch exactly at ReLU's kink).
So the check jitters the parameters and every layer's input by a little (``JITTER``), which moves
units off their kinks. A step that still crosses one gives differences that disagree with each
other across the step sizes ``STEPS``: such a coordinate is left out (and counted), while a
wrong backward pass gives differences that agree with each other and not with it. Otherwise
each coordinate takes the best agreement over the steps (rounding spoils the smallest).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scratchnn.layer_paths import named_layers, watching
from scratchnn.layers.base import Layer
from scratchnn.losses import SoftmaxCrossEntropy
from scratchnn.network import Network

STEPS = (1e-5, 1e-6, 1e-4)  # h: the next ones only where the first disagrees
JITTER = 1e-3  # the spread of the noise added to parameters and pixels, away from the kinks
TINY = 1e-3  # relative to a layer's largest gradient: entries below it compare absolutely
THRESHOLD = 1e-5  # above this relative error, a gradient is wrong


@dataclass(frozen=True)
class ArrayCheck:
    """The largest relative error over ``checked`` coordinates of one array of one layer."""

    layer: str  # "3_dense"; "network" for the input of the whole network
    array: str  # a parameter's name ("weights"), or "input"
    error: float
    checked: int
    kinks: int  # of the coordinates checked, those left out because a step crossed a kink
    alone: bool  # the layer by itself (True) or inside the whole network's loss (False)


def relative_errors(analytic: np.ndarray, numeric: np.ndarray, floor: float) -> np.ndarray:
    """``|a - n| / max(|a|, |n|, floor)``: relative, except for entries near zero, where a
    difference of rounding errors would look large next to them."""
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), floor)
    return np.abs(analytic - numeric) / scale


def central_difference(f: Callable[[], float], flat: np.ndarray, i: int, h: float) -> float:
    """(f(θ + h e_i) - f(θ - h e_i)) / 2h, ``flat[i]`` put back afterwards."""
    kept = flat[i]
    flat[i] = kept + h
    up = f()
    flat[i] = kept - h
    down = f()
    flat[i] = kept
    return (up - down) / (2 * h)


def spread(numeric: list[float], floor: float) -> float:
    """How far central differences at several steps disagree with each other (relatively)."""
    first, others = np.array(numeric[:1]), np.array(numeric[1:])
    return float(relative_errors(first, others, floor).max(initial=0.0))


def check_array(
    f: Callable[[], float],
    values: np.ndarray,
    analytic: np.ndarray,
    rng: np.random.Generator,
    samples: int,
    scale: float,
    threshold: float = THRESHOLD,
) -> tuple[float, int, int]:
    """The largest relative error of ``analytic`` (the gradient of ``f`` with respect to
    ``values``, same shape) over ``samples`` random coordinates, each moved in place and put
    back; how many were checked; and how many of them were left out at a kink. Gradients below
    ``TINY * scale`` (the largest gradient of the layer) compare absolutely."""
    flat, grad = values.reshape(-1), analytic.reshape(-1)
    chosen = rng.choice(flat.size, size=min(samples, flat.size), replace=False)
    floor = max(TINY * scale, 1e-12)
    worst, kinks = 0.0, 0
    for i in chosen:
        numeric = []
        for h in STEPS:  # the next step only while the error stays above the threshold
            numeric.append(central_difference(f, flat, i, h))
            error = float(relative_errors(grad[i : i + 1], np.array(numeric), floor).min())
            if error <= threshold:
                break
        if error > threshold and spread(numeric, floor) > threshold:
            kinks += 1  # the differences disagree among themselves: a step crossed a kink
            continue
        worst = max(worst, error)
    return worst, len(chosen), kinks


def largest(values: np.ndarray) -> float:
    return float(np.abs(values).max(initial=0.0))


def backward_all(layers: list[Layer], dy: np.ndarray) -> np.ndarray:
    """dL/dx of ``layers`` in order from dL/dy, asking every layer for its dx."""
    for layer in reversed(layers):
        dy = layer.backward(dy)
    return dy


class GradientCheck:
    """Checks ``network`` (float64) on images ``x`` (n, *input_shape) with labels ``y`` (n,)."""

    def __init__(
        self,
        network: Network,
        x: np.ndarray,
        y: np.ndarray,
        samples: int = 12,
        seed: int = 0,
        threshold: float = THRESHOLD,
    ) -> None:
        if network.dtype != np.float64:
            raise ValueError(f"a gradient check needs float64, not {network.dtype}")
        self.network, self.samples, self.seed, self.threshold = network, samples, seed, threshold
        self.rng = np.random.default_rng(seed)
        network.params += JITTER * self.rng.standard_normal(network.params.shape)
        self.x = x.astype(np.float64).reshape(len(x), *network.input_shape)
        self.x = self.x + JITTER * self.rng.standard_normal(self.x.shape)
        self.y = y
        self.loss = SoftmaxCrossEntropy(network.n_outputs, np.float64)

    def _dropout_rng(self) -> np.random.Generator:
        """The same draws on every pass: dropout keeps one mask through the check."""
        return np.random.default_rng(self.seed + 1)

    def _check(self, f, values, analytic, scale, layer, array, alone) -> ArrayCheck:
        # the whole network re-checks, through every layer at once, what each layer passed
        # alone: a few coordinates per array find a wrong composition, at a full pass each
        samples = self.samples if alone else max(2, self.samples // 4)
        error, n, kinks = check_array(f, values, analytic, self.rng, samples, scale, self.threshold)
        return ArrayCheck(layer, array, error, n, kinks, alone)

    def layer_alone(
        self, name: str, layer: Layer, x: np.ndarray, params_too: bool = True
    ) -> list[ArrayCheck]:
        """``layer``'s gradients for ``f = sum(R * layer(x))``: its parameters' (unless told
        not to: a container's are its layers', checked each alone) and its input's."""
        x = x + JITTER * self.rng.standard_normal(x.shape)
        y = layer.forward(x.copy(), True, self._dropout_rng())
        r = self.rng.standard_normal(y.shape)

        def f() -> float:
            return float(np.sum(r * layer.forward(x.copy(), True, self._dropout_rng())))

        dx = np.array(layer.backward(r.copy()), copy=True)
        grads = {key: value.copy() for key, value in layer.grads.items()}
        x_moved = x.copy()

        def f_of_x() -> float:
            return float(np.sum(r * layer.forward(x_moved.copy(), True, self._dropout_rng())))

        scale = max([largest(dx), *(largest(g) for g in grads.values())])
        keys = list(grads) if params_too else []
        checks = [
            self._check(f, layer.params[key], grads[key], scale, name, key, True) for key in keys
        ]
        return [*checks, self._check(f_of_x, x_moved, dx, scale, name, "input", True)]

    def _loss(self, x: np.ndarray) -> float:
        return self.loss.forward(self.network.forward(x, True, self._dropout_rng()), self.y)

    def whole_network(self) -> list[ArrayCheck]:
        """The loss's gradients: every parameter through ``network.backward`` (as in training),
        and the pixels'."""
        network = self.network
        self._loss(self.x.copy())
        network.backward(self.loss.backward())
        grads = network.grads.copy()
        self._loss(self.x.copy())
        dx = np.array(backward_all(network.layers, self.loss.backward()), copy=True)
        checks = []
        at = 0
        names = named_layers(network.layers)
        top = [(name, layer) for name, layer in names if "." not in name]
        f = lambda: self._loss(self.x.copy())  # noqa: E731
        for name, layer in top:
            shapes = layer.param_shapes()
            size = sum(math.prod(shape) for shape in shapes.values())
            scale = largest(grads[at : at + size])
            for key, shape in shapes.items():
                analytic = grads[at : at + math.prod(shape)].reshape(shape)
                checks.append(self._check(f, layer.params[key], analytic, scale, name, key, False))
                at += math.prod(shape)
        x_moved = self.x.copy()
        f_of_x = lambda: self._loss(x_moved.copy())  # noqa: E731
        return [*checks, self._check(f_of_x, x_moved, dx, largest(dx), "network", "input", False)]

    def run(self) -> list[ArrayCheck]:
        """Every layer alone (in order, nested ones after their container), then the network."""
        state = self.network.state.copy()  # batch norm's running statistics move in training mode
        inputs: dict[str, np.ndarray] = {}

        def record(name: str, layer: Layer, x: np.ndarray, y: np.ndarray) -> None:
            inputs[name] = x.copy()

        with watching(self.network.layers, record):
            self._loss(self.x.copy())
        checks = []
        named = named_layers(self.network.layers)
        for name, layer in named:
            container = any(other.startswith(f"{name}.") for other, _ in named)
            checks += self.layer_alone(name, layer, inputs[name], params_too=not container)
        checks += self.whole_network()
        self.network.state[...] = state
        return checks


def failing_layers(checks: list[ArrayCheck], threshold: float = THRESHOLD) -> list[str]:
    """The layers whose own check fails (alone), in order; if none does but the whole network
    does, ``["network"]``: the layers are right by themselves, wrong together."""
    alone = [c.layer for c in checks if c.alone and c.error > threshold]
    if alone:
        return list(dict.fromkeys(alone))
    return ["network"] if any(c.error > threshold for c in checks) else []
