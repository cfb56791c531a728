"""Training epochs timed configuration by configuration, each against the floor of its round."""

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import scratchnn as sn
from pipeline.config import Config, compose, validate
from pipeline.data.artifacts import N_CLASSES
from pipeline.network.factory import build_network, build_optimizer
from pipeline.tools.bench.floor import EpochProducts
from scratchnn.buffers import RowBuffer
from scratchnn.training import batches

BATCH_SIZES: tuple[int | None, ...] = (64, 128, 256, None)  # None: full batch


DTYPES = ("float32", "float64")


def batch_name(batch_size: int | None) -> str:
    return "full batch" if batch_size is None else f"batch {batch_size}"


class TimedOptimizer:
    """Wraps an optimiser (the ``scratchnn.Optimizer`` protocol), adding up its steps' seconds."""

    def __init__(self, inner: sn.Optimizer) -> None:
        self.inner = inner
        self.seconds = 0.0

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        started = time.perf_counter()
        self.inner.step(params, grads, lr)
        self.seconds += time.perf_counter() - started

    def state(self) -> dict[str, np.ndarray]:
        return self.inner.state()

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.inner.load_state(state)


@dataclass
class TrainingRun:
    """One configuration trained an epoch at a time with ``scratchnn.fit``, as ``train`` does."""

    name: str  # "adam/float32/batch 128"
    cfg: Config
    x: np.ndarray
    y: np.ndarray
    network: sn.Network = field(init=False)
    optimizer: TimedOptimizer = field(init=False)
    rng: np.random.Generator = field(init=False)
    epochs: list[float] = field(default_factory=list)  # seconds per timed epoch
    optimiser: list[float] = field(default_factory=list)  # of which in optimizer.step

    def __post_init__(self) -> None:
        self.network = build_network(self.cfg, n_inputs=self.x.shape[1], n_classes=N_CLASSES)
        self.optimizer = TimedOptimizer(build_optimizer(self.cfg, self.network))
        self.rng = np.random.default_rng([self.cfg.train.seed, 1])

    def epoch(self, record: bool) -> None:
        self.optimizer.seconds = 0.0
        (metrics,) = sn.fit(
            self.network,
            self.optimizer,
            sn.constant(self.cfg.optimizer.lr),
            self.x,
            self.y,
            epochs=1,
            batch_size=self.cfg.train.batch_size,
            rng=self.rng,
            weight_decay=self.cfg.train.weight_decay,
            clip_norm=self.cfg.train.clip_norm,
        )
        if record:
            self.epochs.append(metrics.seconds)
            self.optimiser.append(self.optimizer.seconds)


def run_overrides(optimizer: str, dtype: str, batch_size: int | None) -> list[str]:
    """Hydra overrides for one configuration; full-batch SGD is the original recipe's."""
    batch = "null" if batch_size is None else str(batch_size)
    recipe = ["experiment=seed"] if optimizer == "sgd" else [f"optimizer={optimizer}"]
    return [*recipe, f"dtype={dtype}", f"train.batch_size={batch}"]


def time_shuffling(x: np.ndarray, y: np.ndarray, batch_size: int | None) -> float:
    """Seconds ``fit`` spends on one epoch's batches alone: the permutation and the gathers."""
    buffer = RowBuffer(x.shape[1], x.dtype)
    started = time.perf_counter()
    for _ in batches(x, y, batch_size, np.random.default_rng(0), buffer):
        pass
    return time.perf_counter() - started


def median_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    return statistics.median(a / b for a, b in zip(numerators, denominators, strict=True))


def measure_batch_size(
    batch_size: int | None,
    layer_sizes: Sequence[int],
    optimizers: Sequence[str],
    dtypes: Sequence[str],
    data: dict[str, tuple[np.ndarray, np.ndarray]],
    base_overrides: Sequence[str],
    warmup: int,
    repeats: int,
    echo: Callable[[str], None],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Rounds of (floors, shuffling, one epoch of every run); returns (floors, runs) results."""
    names = [o for o in optimizers if o != "sgd" or batch_size is None]  # SGD: full batch only
    runs = [
        TrainingRun(
            f"{optimizer}/{dtype}/{batch_name(batch_size)}",
            validate(compose([*base_overrides, *run_overrides(optimizer, dtype, batch_size)])),
            *data[dtype],
        )
        for optimizer in names
        for dtype in dtypes
    ]
    products = {dtype: EpochProducts(data[dtype][0], layer_sizes, batch_size) for dtype in dtypes}
    floors: dict[str, list[float]] = {dtype: [] for dtype in dtypes}
    shuffling: dict[str, list[float]] = {dtype: [] for dtype in dtypes}
    for round_ in range(warmup + repeats):
        record = round_ >= warmup
        for dtype in dtypes:
            floor = products[dtype].run()
            shuffle = time_shuffling(*data[dtype], batch_size)
            if record:
                floors[dtype].append(floor)
                shuffling[dtype].append(shuffle)
        for run in runs:
            run.epoch(record)
        echo(f"  {batch_name(batch_size)}: round {round_ + 1}/{warmup + repeats} done")
    floor_results = {
        dtype: {
            "flops": products[dtype].flops(),
            "seconds": statistics.median(floors[dtype]),
            "gflops_per_second": products[dtype].flops() / statistics.median(floors[dtype]) / 1e9,
            "rounds": floors[dtype],
        }
        for dtype in dtypes
    }
    run_results = {}
    for run in runs:
        dtype = run.cfg.dtype.value
        other = [
            epoch - floor - opt - shuffle
            for epoch, floor, opt, shuffle in zip(
                run.epochs, floors[dtype], run.optimiser, shuffling[dtype], strict=True
            )
        ]
        run_results[run.name] = {
            "optimizer": run.name.split("/")[0],
            "dtype": dtype,
            "batch_size": batch_size,
            "epoch_seconds": statistics.median(run.epochs),
            "ratio_to_float32_floor": (
                median_ratio(run.epochs, floors["float32"]) if "float32" in floors else None
            ),
            "ratio_to_own_dtype_floor": median_ratio(run.epochs, floors[dtype]),
            "breakdown_seconds": {
                "products": statistics.median(floors[dtype]),
                "elementwise_and_python": statistics.median(other),
                "optimiser": statistics.median(run.optimiser),
                "shuffling": statistics.median(shuffling[dtype]),
            },
            "rounds": run.epochs,
        }
    return floor_results, run_results
