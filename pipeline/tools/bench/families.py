"""The sections of the newer families: training steps of ``experiment=lstm``,
``experiment=vit`` and ``experiment=resnet``, each against the GEMM floor of its own matrix
products.

Here the floor is recorded rather than rebuilt layer by layer as the CNN section does: one
training step runs with ``np.matmul`` wrapped, and the wrapper keeps every product's operands
``(a, b, out)``, the very arrays the layers use, so the replay has their shapes, strides and
layouts exactly (the recurrent loops' per-step products, attention's batched per-head products,
the transposed views of the weight gradients, the convolutions' im2col products chunk by
chunk). Replaying them alone, once per training step, is
what those steps cannot beat. The steps are timed as ``fit`` runs them (forward, loss,
backward, gradient clipping, the optimiser; not the augmentation, whose cost the CNN section
reports) over the first ``steps * batch_size`` training rows; an epoch of MNIST's 55,000
images is ``ceil(rows / batch_size)`` such steps.
"""

import math
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

import scratchnn as sn
from pipeline.config import compose, validate
from pipeline.data.artifacts import N_CLASSES
from pipeline.network.factory import build_network, build_optimizer

FAMILIES = {"lstm": "experiment=lstm", "vit": "experiment=vit", "resnet": "experiment=resnet"}
STEPS = 100  # training steps per round (fewer when the training rows end first)
MNIST_TRAIN_ROWS = 55_000  # an epoch of the recipes, for the estimate

Product = tuple[np.ndarray, np.ndarray, np.ndarray | None]  # np.matmul(a, b, out=out)


@contextmanager
def recorded_products() -> Iterator[list[Product]]:
    """Every ``np.matmul(a, b, out=out)`` called while the block runs, its operands kept."""
    products: list[Product] = []
    original = np.matmul

    def recording(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, **kw: Any) -> Any:
        products.append((a, b, out))
        return original(a, b, out=out, **kw)

    np.matmul = recording  # type: ignore[assignment]
    try:
        yield products
    finally:
        np.matmul = original


def step_products(network: sn.Network, x: np.ndarray, y: np.ndarray) -> list[Product]:
    """The products one training step (forward, loss, backward) makes on the batch ``x``."""
    loss = sn.SoftmaxCrossEntropy(network.n_outputs, network.dtype)
    with recorded_products() as products:
        loss.forward(network.forward(x, training=True, rng=np.random.default_rng(0)), y)
        network.backward(loss.backward())
    return products


def flops(products: list[Product]) -> int:
    """Multiply-adds count 2: ``2 m k n`` per ``(..., m, k) @ (..., k, n)``, over the stack."""
    return sum(2 * math.prod(a.shape[:-1]) * a.shape[-1] * b.shape[-1] for a, b, _ in products)


def replay(products: list[Product], steps: int) -> float:
    """Seconds for the products of ``steps`` training steps, alone."""
    started = time.perf_counter()
    for _ in range(steps):
        for a, b, out in products:
            np.matmul(a, b, out=out)
    return time.perf_counter() - started


def measure_family(
    family: str,
    x: np.ndarray,
    y: np.ndarray,
    base_overrides: list[str],
    warmup: int,
    repeats: int,
    echo: Callable[[str], None],
) -> dict[str, Any]:
    """Rounds of (the floor of the steps, the steps) for one family's recipe, in float32."""
    recipe = FAMILIES[family]
    cfg = validate(compose([*base_overrides, recipe, "dtype=float32"]))
    batch = cfg.train.batch_size
    assert batch is not None
    steps = min(STEPS, len(x) // batch) or 1
    rows = min(len(x), steps * batch)
    x, y = x[:rows].astype(np.float32, copy=False), y[:rows]
    network = build_network(cfg, n_inputs=x.shape[1], n_classes=N_CLASSES)
    optimizer = build_optimizer(cfg, network)
    rng = np.random.default_rng([cfg.train.seed, 1])
    products = step_products(network, x[:batch], y[:batch])
    floors: list[float] = []
    timed: list[float] = []
    for round_ in range(warmup + repeats):
        floor = replay(products, steps)
        (metrics,) = sn.fit(
            network,
            optimizer,
            sn.constant(cfg.optimizer.lr),
            x,
            y,
            epochs=1,
            batch_size=batch,
            rng=rng,
            clip_norm=cfg.train.clip_norm,
        )
        if round_ >= warmup:
            floors.append(floor)
            timed.append(metrics.seconds)
        echo(f"  {family}: round {round_ + 1}/{warmup + repeats} done ({metrics.seconds:.1f} s)")
    seconds, floor_seconds = statistics.median(timed), statistics.median(floors)
    return {
        "recipe": recipe,
        "layers": network.describe()["layers"],
        "parameter_count": network.parameter_count,
        "batch_size": batch,
        "steps": steps,
        "products_per_step": len(products),
        "floor": {
            "flops": flops(products) * steps,
            "seconds": floor_seconds,
            "gflops_per_second": flops(products) * steps / floor_seconds / 1e9,
            "rounds": floors,
        },
        "steps_seconds": seconds,
        "epoch_seconds_estimate": seconds / steps * math.ceil(MNIST_TRAIN_ROWS / batch),
        "ratio_to_floor": statistics.median(t / f for t, f in zip(timed, floors, strict=True)),
        "rounds": timed,
    }
