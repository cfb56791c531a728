"""The CNN section: one Adam epoch of ``experiment=cnn`` against the GEMM floor of its layers.

The floor is what the network's matrix products alone take, in the textbook im2col layout at the
network's shapes: per batch, each convolution's ``cols @ W`` over the whole batch's columns, its
weight gradient ``cols.T @ dy`` and, but for the first layer, the k*k products
``dy @ W[di, dj].T`` of col2im; each dense layer's three products. It is the yardstick of issue
29 ("the floor as it is measured today"), kept fixed while the layer changed how it computes the
same sums (columns built a few images at a time, dx as one convolution of the dilated dy: see
``scratchnn/layers/conv.py``), so that ratios stay comparable from one version to the next.

The epoch is timed as ``train`` runs it (``scratchnn.fit``); a separate round with every layer
timed splits it into the floor's products, the rest of the convolutions' time (the copies:
padding, im2col, bias, and whatever their products take beyond the floor's), pooling, the other
elementwise work and the optimiser; what is left is the loss, the batch gathering and Python.
"""

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

import scratchnn as sn
from pipeline.config import Config, compose, validate
from pipeline.data.artifacts import N_CLASSES
from pipeline.network.factory import build_augment, build_network, build_optimizer
from pipeline.tools.bench.epochs import TimedOptimizer
from scratchnn.buffers import RowBuffer
from scratchnn.training import batches

RECIPE = "experiment=cnn"
AUGMENTED_RECIPE = "experiment=cnn_augmented"
Product = tuple[np.ndarray, np.ndarray, np.ndarray]  # a, b, out of one np.matmul(a, b, out=out)


def layer_products(layer: sn.Layer, batch: int, needs_dx: bool) -> list[Product]:
    """The products one training step of ``layer`` makes, on random arrays of its shapes."""
    rng = np.random.default_rng(0)
    dtype = layer.dtype

    def array(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(dtype)

    if isinstance(layer, sn.Conv2D):
        h_out, w_out = layer.out_hw
        rows, depth = batch * h_out * w_out, layer.kernel**2 * layer.c_in
        # the same layout as the layer's cols: transposed for a one-channel input
        cols = array(depth, rows).T if layer.c_in == 1 else array(rows, depth)
        weights, dy = array(depth, layer.filters), array(rows, layer.filters)
        products = [
            (cols, weights, np.empty((rows, layer.filters), dtype)),
            (cols.T, dy, np.empty((depth, layer.filters), dtype)),
        ]
        if needs_dx:
            slab = np.empty((rows, layer.c_in), dtype)
            kernel = array(layer.kernel, layer.kernel, layer.c_in, layer.filters)
            products += [
                (dy, kernel[di, dj].T, slab)
                for di in range(layer.kernel)
                for dj in range(layer.kernel)
            ]
        return products
    if isinstance(layer, sn.Dense):
        x, weights, dy = (
            array(batch, layer.n_in),
            array(layer.n_in, layer.n_out),
            array(batch, layer.n_out),
        )
        products = [
            (x, weights, np.empty((batch, layer.n_out), dtype)),
            (x.T, dy, np.empty((layer.n_in, layer.n_out), dtype)),
        ]
        if needs_dx:
            products.append((dy, weights.T, np.empty((batch, layer.n_in), dtype)))
        return products
    return []


class NetworkProducts:
    """The matrix products of one training epoch of ``network`` on ``n_rows`` rows, alone."""

    def __init__(self, network: sn.Network, n_rows: int, batch_size: int) -> None:
        self.batch_sizes = [min(batch_size, n_rows - s) for s in range(0, n_rows, batch_size)]
        trainable = [i for i, layer in enumerate(network.layers) if layer.param_shapes()]
        self.plans = {  # batch size -> {"3 conv2d": that layer's products}
            batch: {
                f"{i} {network.layers[i].type_name}": layer_products(
                    network.layers[i], batch, needs_dx=i != trainable[0]
                )
                for i in trainable
            }
            for batch in set(self.batch_sizes)
        }

    def flops(self) -> int:
        """Multiply-adds count 2: ``2 m k n`` per ``(m, k) @ (k, n)``."""
        return sum(
            2 * a.shape[0] * a.shape[1] * b.shape[1]
            for batch in self.batch_sizes
            for products in self.plans[batch].values()
            for a, b, _ in products
        )

    def run(self) -> dict[str, float]:
        """Seconds per layer (``"3 conv2d"``) for one epoch of products."""
        seconds: dict[str, float] = {}
        for batch in self.batch_sizes:
            for key, products in self.plans[batch].items():
                started = time.perf_counter()
                for a, b, out in products:
                    np.matmul(a, b, out=out)
                seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - started
        return seconds


CATEGORIES = {"conv2d": "conv", "dense": "dense", "maxpool2d": "pooling", "avgpool2d": "pooling"}


@contextmanager
def timed_layers(network: sn.Network) -> Iterator[dict[str, float]]:
    """Add up each layer's forward and backward seconds by category while the block runs."""
    seconds: dict[str, float] = {}
    originals = []
    for layer in network.layers:
        category = CATEGORIES.get(layer.type_name, "elementwise")
        seconds.setdefault(category, 0.0)
        for method in ("forward", "backward"):
            inner = getattr(layer, method)

            def timed(*args: Any, _inner: Callable = inner, _key: str = category, **kw: Any) -> Any:
                started = time.perf_counter()
                result = _inner(*args, **kw)
                seconds[_key] += time.perf_counter() - started
                return result

            originals.append((layer, method))
            setattr(layer, method, timed)
    try:
        yield seconds
    finally:
        for layer, method in originals:
            delattr(layer, method)  # back to the class's method


def one_epoch(
    cfg: Config,
    network: sn.Network,
    optimizer: sn.Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
) -> float:
    (metrics,) = sn.fit(
        network,
        optimizer,
        sn.constant(cfg.optimizer.lr),
        x,
        y,
        epochs=1,
        batch_size=cfg.train.batch_size,
        rng=rng,
        weight_decay=cfg.train.weight_decay,
        clip_norm=cfg.train.clip_norm,
    )
    return metrics.seconds


def time_augmentation(cfg: Config, x: np.ndarray, y: np.ndarray) -> float:
    """Seconds ``cfg``'s ``data.augment`` takes over one epoch's batches (the gathers excluded)."""
    augment = build_augment(cfg)
    assert augment is not None and cfg.train.batch_size is not None
    rng = np.random.default_rng(0)
    buffer = RowBuffer(x.shape[1:], x.dtype)
    seconds = 0.0
    for xb, _ in batches(x, y, cfg.train.batch_size, rng, buffer):
        started = time.perf_counter()
        augment(xb, rng)
        seconds += time.perf_counter() - started
    return seconds


def measure_cnn(
    x: np.ndarray,
    y: np.ndarray,
    base_overrides: list[str],
    warmup: int,
    repeats: int,
    echo: Callable[[str], None],
) -> dict[str, Any]:
    """Rounds of (the floor, one epoch), then one epoch with every layer timed."""
    cfg = validate(compose([*base_overrides, RECIPE, "dtype=float32"]))
    x = x.astype(np.float32, copy=False)
    network = build_network(cfg, n_inputs=x.shape[1], n_classes=N_CLASSES)
    optimizer = TimedOptimizer(build_optimizer(cfg, network))
    rng = np.random.default_rng([cfg.train.seed, 1])
    assert cfg.train.batch_size is not None
    products = NetworkProducts(network, len(x), cfg.train.batch_size)
    floors: list[float] = []
    epochs: list[float] = []
    for round_ in range(warmup + repeats):
        floor = sum(products.run().values())
        epoch = one_epoch(cfg, network, optimizer, x, y, rng)
        if round_ >= warmup:
            floors.append(floor)
            epochs.append(epoch)
        echo(f"  cnn: round {round_ + 1}/{warmup + repeats} done ({epoch:.1f} s)")
    layer_floors = products.run()
    optimizer.seconds = 0.0
    with timed_layers(network) as by_category:
        epoch = one_epoch(cfg, network, optimizer, x, y, rng)
    conv_products = sum(s for key, s in layer_floors.items() if key.endswith("conv2d"))
    dense_products = sum(s for key, s in layer_floors.items() if key.endswith("dense"))
    parts = {
        "products": conv_products + dense_products,
        "conv_copies": by_category.get("conv", 0.0) - conv_products,
        "pooling": by_category.get("pooling", 0.0),
        "elementwise": by_category.get("elementwise", 0.0)
        + by_category.get("dense", 0.0)
        - dense_products,
        "optimiser": optimizer.seconds,
    }
    parts["loss_batches_python"] = epoch - sum(parts.values())
    echo("  cnn: the timed-layers epoch and the augmentation done")
    augmented = validate(compose([*base_overrides, AUGMENTED_RECIPE]))
    return {
        "recipe": RECIPE,
        "layers": network.describe()["layers"],
        "batch_size": cfg.train.batch_size,
        "rows": len(x),
        "floor": {
            "flops": products.flops(),
            "seconds": statistics.median(floors),
            "gflops_per_second": products.flops() / statistics.median(floors) / 1e9,
            "by_layer": layer_floors,
            "rounds": floors,
        },
        "epoch_seconds": statistics.median(epochs),
        "ratio_to_floor": statistics.median(e / f for e, f in zip(epochs, floors, strict=True)),
        "rounds": epochs,
        "breakdown_epoch_seconds": epoch,
        "breakdown_seconds": parts,
        "augmentation": {
            "recipe": AUGMENTED_RECIPE,
            "shift": augmented.data.augment.shift,
            "rotate": augmented.data.augment.rotate,
            "seconds_per_epoch": time_augmentation(augmented, x, y),
        },
    }
