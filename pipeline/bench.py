"""``make bench``: how close a training epoch comes to the time of its matrix products alone.

python -m pipeline.bench                                 # about 2 minutes on 2 idle cores
python -m pipeline.bench --output old.json               # elsewhere than reports/benchmark.json
python -m pipeline.bench --batch-sizes 128 --repeats 9   # fewer configurations, more rounds
python -m pipeline.bench --compare old.json new.json     # two results side by side; runs nothing

For an MLP nearly all necessary work is matrix products, which NumPy hands to BLAS. The **GEMM
floor** is the time one epoch's products take alone, measured here at exactly the network's
shapes and layouts: per batch the forward products ``a @ W``, the weight gradients ``a.T @ dy``,
and the input gradients ``dy @ W.T`` of every layer but the first (nobody needs d(loss)/d(pixels)).
Every training epoch is reported as a multiple of it; the rest (bias adds, ReLU, softmax, the
optimiser, shuffling, Python) is overhead. Other programs on the machine make timings noisy, so
each round times the floor right before the epochs it is compared with, a ratio is taken within
its round, and every figure is the median over the rounds, after a warm-up round.

Thread settings are the user's: ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` as set, or
``--threads N`` through threadpoolctl. ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` are printed
when set, never changed.
"""

import argparse
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import scratchnn as sn
from pipeline.cli import run_stage
from pipeline.config import PROJECT_ROOT, Config, compose, validate
from pipeline.digits_csv import N_CLASSES
from pipeline.factory import build_network, build_optimizer
from pipeline.io import write_json
from pipeline.prepare import load_split, prepare
from scratchnn.buffers import RowBuffer
from scratchnn.training import batches

DEFAULT_OUTPUT = "reports/benchmark.json"
BATCH_SIZES: tuple[int | None, ...] = (64, 128, 256, None)  # None: full batch
DTYPES = ("float32", "float64")
OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# epoch / float32 GEMM floor, for float32 and 784-128-64-10 (the targets)
TARGETS = {
    "adam/float32/batch 128": 2.0,
    "momentum/float32/batch 128": 1.6,
    "sgd/float32/full batch": 1.3,
}
LOAD_TARGET_SECONDS = 0.5
PREPARE_TARGET_SECONDS = 5.0
TRAIN_MEMORY_TARGET = 3.0  # peak RSS of `train` / bytes of the float32 training array


def batch_name(batch_size: int | None) -> str:
    return "full batch" if batch_size is None else f"batch {batch_size}"


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far.

    Linux's ``VmHWM``, which starts afresh in a new program; ``ru_maxrss`` would carry the
    parent's peak over into a child started with fork and exec.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ---------------------------------------------------------------------------- the machine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    """``HEAD``'s hash, with ``+dirty`` when tracked files have changed since."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
        )
    except OSError:
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def machine_facts() -> dict[str, Any]:
    blas = [
        {
            "library": info.get("internal_api"),
            "version": info.get("version"),
            "kernel": info.get("architecture"),
            "threads": info.get("num_threads"),
            "threading_layer": info.get("threading_layer"),
            "file": Path(info.get("filepath", "")).name,
        }
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
    return {
        "cpu": cpu_model(),
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        "environment": {
            name: os.environ[name]
            for name in (*OPENBLAS_VARIABLES, *THREAD_VARIABLES)
            if name in os.environ
        },
        "commit": git_commit(),
        "load_average_before": os.getloadavg()[0],  # other programs' demand for the CPU
    }


def subnormal_slowdown(n: int = 100_000, repeats: int = 50) -> float:
    """How much slower ``a *= 0.9`` runs when every entry of ``a`` is subnormal (float32).

    About 1 on CPUs that handle subnormals in hardware, up to ~100 on those that trap to
    microcode: how much Adam's flush of subnormal moments (``scratchnn.denormals``) saves here.
    """

    def seconds(value: float) -> float:
        times = []
        for _ in range(repeats):
            a = np.full(n, value, dtype=np.float32)
            started = time.perf_counter()
            a *= np.float32(0.9)  # stays subnormal: 1e-39 * 0.9 is still below 1.2e-38
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    return seconds(1e-39) / seconds(1.0)


# ---------------------------------------------------------------------------- the GEMM floor


class EpochProducts:
    """The matrix products of one training epoch of an MLP, and nothing else.

    The same shapes and memory layouts as ``scratchnn``'s Dense layers, over contiguous batches
    of ``x`` (training gathers each batch into a contiguous buffer too). Weights and upstream
    gradients are fixed random arrays: BLAS's speed does not depend on the values.
    """

    def __init__(self, x: np.ndarray, layer_sizes: Sequence[int], batch_size: int | None) -> None:
        rng = np.random.default_rng(0)
        dtype = x.dtype
        self.x = x
        self.batch = len(x) if batch_size is None else min(batch_size, len(x))
        pairs = list(itertools.pairwise(layer_sizes))
        self.weights = [
            (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(dtype)
            for n_in, n_out in pairs
        ]
        self.grad_weights = [np.empty_like(w) for w in self.weights]
        self.outputs = [np.empty((self.batch, n_out), dtype) for _, n_out in pairs]  # a @ W
        self.upstream = [rng.standard_normal((self.batch, n)).astype(dtype) for _, n in pairs]
        self.grad_inputs = [np.empty((self.batch, n_in), dtype) for n_in, _ in pairs]  # dy @ W.T

    def flops(self) -> int:
        """Multiply-adds count 2: ``2 m k n`` per ``(m, k) @ (k, n)``."""
        n_rows = len(self.x)
        per_row = 0
        for i, w in enumerate(self.weights):
            n_in, n_out = w.shape
            per_row += 2 * n_in * n_out * (3 if i > 0 else 2)  # forward, dW, and dx but in layer 1
        return per_row * n_rows

    def run(self) -> float:
        """Seconds for one epoch of products."""
        started = time.perf_counter()
        for start in range(0, len(self.x), self.batch):
            a = self.x[start : start + self.batch]
            rows = len(a)
            inputs = []
            for w, out in zip(self.weights, self.outputs, strict=True):
                inputs.append(a)
                a = np.matmul(a, w, out=out[:rows])
            for i in reversed(range(len(self.weights))):
                dy = self.upstream[i][:rows]
                np.matmul(inputs[i].T, dy, out=self.grad_weights[i])
                if i > 0:
                    np.matmul(dy, self.weights[i].T, out=self.grad_inputs[i][:rows])
        return time.perf_counter() - started


# ---------------------------------------------------------------------------- training epochs


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
        self.optimizer = TimedOptimizer(build_optimizer(self.cfg))
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


# ---------------------------------------------------------------------------- data and stages


def time_loading(prepared: Path, repeats: int = 3) -> dict[str, float]:
    """Median seconds to load the prepared train, val and test splits (``load_split``)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for split in ("train", "val", "test"):
            load_split(prepared, split)
        times.append(time.perf_counter() - started)
    return {"seconds": statistics.median(times), "rounds": times}


def child_prepare(overrides: list[str]) -> dict[str, Any]:
    """Run ``prepare`` on the configured CSVs into a temp folder (in a child process)."""
    with tempfile.TemporaryDirectory(prefix="bench-prepare-") as folder:
        cfg = validate(compose([*overrides, f"paths.prepared={Path(folder) / 'prepared'}"]))
        started = time.perf_counter()
        info = prepare(cfg)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": sum(info["rows"].values())}


def child_train_memory(overrides: list[str]) -> dict[str, Any]:
    """One epoch of the ``train`` stage's ``train()`` with the default configuration."""
    from pipeline.train import train  # the stage's own imports count towards its memory

    cfg = validate(compose([*overrides, "train.epochs=1"]))
    before = peak_rss_bytes()
    shape = np.load(Path(cfg.paths.prepared) / "train_x.npy", mmap_mode="r").shape  # no read
    train(cfg)
    return {
        "train_array_float32_bytes": int(np.prod(shape)) * np.dtype(np.float32).itemsize,
        "rss_after_imports_bytes": before,
    }


CHILDREN: dict[str, Callable[[list[str]], dict[str, Any]]] = {
    "prepare": child_prepare,
    "train-memory": child_train_memory,
}


def in_child(task: str, overrides: list[str]) -> dict[str, Any]:
    """Run ``CHILDREN[task]`` in a fresh Python, so its peak memory is its own."""
    command = [sys.executable, "-m", "pipeline.bench", "--child", task, *overrides]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1:] or [f"exit {result.returncode}"]}
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    measured["process_seconds"] = time.perf_counter() - started
    return measured


# ---------------------------------------------------------------------------- report


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def cell(value: float | None, width: int, digits: int) -> str:
    """``value`` right-aligned in ``width`` characters, or a dash when there is none."""
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def check_targets(results: dict[str, Any]) -> dict[str, Any]:
    """Each target the issue sets, with the measured value and whether it is met."""
    checks: dict[str, Any] = {}
    for name, target in TARGETS.items():
        if name in results["runs"]:
            ratio = results["runs"][name]["ratio_to_float32_floor"]
            checks[name] = {"value": ratio, "target": target, "met": ratio <= target}
    load = results.get("loading")
    if load:
        checks["load prepared data (s)"] = {
            "value": load["seconds"],
            "target": LOAD_TARGET_SECONDS,
            "met": load["seconds"] < LOAD_TARGET_SECONDS,
        }
    prepare = results.get("prepare") or {}
    if "seconds" in prepare:
        checks["prepare (s)"] = {
            "value": prepare["seconds"],
            "target": PREPARE_TARGET_SECONDS,
            "met": prepare["seconds"] <= PREPARE_TARGET_SECONDS,
        }
    memory = results.get("train_memory") or {}
    if "peak_rss_bytes" in memory:
        ratio = memory["peak_rss_bytes"] / memory["train_array_float32_bytes"]
        checks["train peak memory / float32 training array"] = {
            "value": ratio,
            "target": TRAIN_MEMORY_TARGET,
            "met": ratio <= TRAIN_MEMORY_TARGET,
        }
    return checks


def report_lines(results: dict[str, Any]) -> list[str]:
    machine = results["machine"]
    lines = [f"machine: {machine['cpu']}, {machine['cores']} cores, numpy {machine['numpy']}"]
    for blas in machine["blas"]:
        lines.append(
            f"BLAS: {blas['library']} {blas['version']}, kernel {blas['kernel']}, "
            f"{blas['threads']} thread{'' if blas['threads'] == 1 else 's'} "
            f"({blas['threading_layer']})"
        )
    for name, value in machine["environment"].items():
        lines.append(f"environment: {name}={value}")
    busy = machine["load_average_before"] >= 1
    lines.append(
        f"load average {machine['load_average_before']:.1f} before the run, "
        f"{results['load_average_after']:.1f} after (which counts this run)"
        + (": other programs were using the CPU, timings are noisy" if busy else "")
    )
    lines.append(f"subnormal float32 a *= 0.9: {results['subnormal_slowdown']:.1f}x slower")
    lines += ["", "GEMM floor: one epoch's matrix products alone (median over rounds)"]
    lines.append(f"{'batch':<12}{'dtype':<9}{'GFLOP':>8}{'seconds':>10}{'GFLOP/s':>10}")
    for batch, floors in results["floors"].items():
        for dtype, floor in floors.items():
            lines.append(
                f"{batch:<12}{dtype:<9}{floor['flops'] / 1e9:>8.2f}{floor['seconds']:>10.3f}"
                f"{floor['gflops_per_second']:>10.1f}"
            )
    lines += [
        "",
        "Epochs (median over rounds); ratio = epoch / float32 GEMM floor of the same round",
        f"{'configuration':<30}{'epoch s':>8}{'ratio':>7}{'own':>6} | "
        f"{'products':>8}{'elemwise':>9}{'optim':>7}{'shuffle':>8}",
    ]
    for name, run in results["runs"].items():
        parts = run["breakdown_seconds"]
        ratio = cell(run["ratio_to_float32_floor"], 7, 2)
        own = "" if run["dtype"] == "float32" else f"{run['ratio_to_own_dtype_floor']:.2f}"
        lines.append(
            f"{name:<30}{run['epoch_seconds']:>8.3f}{ratio}{own:>6} | "
            f"{parts['products']:>8.3f}{parts['elementwise_and_python']:>9.3f}"
            f"{parts['optimiser']:>7.3f}{parts['shuffling']:>8.3f}"
        )
    lines.append("(own: float64 epochs against the float64 floor; breakdown in seconds)")
    if results.get("loading"):
        seconds = results["loading"]["seconds"]
        lines.append(f"\nprepared data (train, val, test) loads in {seconds:.3f} s")
    for key, label in (("prepare", "prepare stage"), ("train_memory", "train stage (1 epoch)")):
        measured = results.get(key)
        if measured and "error" in measured:
            lines.append(f"{label}: failed: {measured['error']}")
        elif measured:
            seconds = f"{measured['seconds']:.2f} s, " if "seconds" in measured else ""
            lines.append(f"{label}: {seconds}peak RSS {measured['peak_rss_bytes'] / 1e6:.0f} MB")
    lines.append(f"this benchmark's peak RSS: {results['peak_rss_bytes'] / 1e6:.0f} MB")
    lines += ["", "Targets"]
    for name, check in results["targets"].items():
        lines.append(
            f"  {name:<45} {check['value']:>7.3f}  target {check['target']:<5} "
            f"{verdict(check['met'])}"
        )
    return lines


def compare_lines(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Ratios (less sensitive to the machine's load than seconds) and epoch times of two
    benchmark results."""
    lines = [
        f"old: {old['machine'].get('commit')}  new: {new['machine'].get('commit')}",
        f"{'configuration':<30}{'old ratio':>10}{'new ratio':>10}{'old s':>8}{'new s':>8}",
    ]
    for name in sorted(set(old["runs"]) | set(new["runs"])):
        runs = [result["runs"].get(name) or {} for result in (old, new)]
        ratios = "".join(cell(run.get("ratio_to_float32_floor"), 10, 2) for run in runs)
        seconds = "".join(cell(run.get("epoch_seconds"), 8, 3) for run in runs)
        lines.append(f"{name:<30}{ratios}{seconds}")
    return lines


# ---------------------------------------------------------------------------- main


def parse_batch_size(text: str) -> int | None:
    return None if text == "full" else int(text)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help="where the JSON results go")
    parser.add_argument("--prepared", help="prepared-data folder (default: paths.prepared)")
    parser.add_argument(
        "--batch-sizes",
        nargs="+",
        type=parse_batch_size,
        default=list(BATCH_SIZES),
        help="'full' for full batch (default: 64 128 256 full)",
    )
    parser.add_argument(
        "--optimizers", nargs="+", default=["adam", "momentum", "sgd"], help="sgd: full batch only"
    )
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=DTYPES)
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    parser.add_argument("--threads", type=int, help="limit BLAS threads (threadpoolctl)")
    parser.add_argument(
        "--no-stages",
        action="store_true",
        help="skip timing the prepare stage and the train stage's memory",
    )
    parser.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"), help="compare two results")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every configuration")
    return parser.parse_args(argv)


def benchmark(args: argparse.Namespace, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Everything ``make bench`` measures, as one JSON-able dict."""
    cfg = validate(compose(args.overrides))
    prepared = Path(args.prepared or cfg.paths.prepared)
    overrides = [*args.overrides, f"paths.prepared={prepared}"]
    results: dict[str, Any] = {"machine": machine_facts(), "settings": vars(args).copy()}
    results["settings"].pop("child")
    machine = results["machine"]
    echo(f"machine: {machine['cpu']}, {machine['cores']} cores")
    if machine["load_average_before"] >= 1:
        echo(
            f"note: the load average is {machine['load_average_before']:.1f}: other programs "
            "are using the CPU, so timings will be noisy (ratios within a round less so)"
        )
    for name in OPENBLAS_VARIABLES:
        if name in os.environ:
            echo(f"note: {name}={os.environ[name]} is set; it can slow NumPy's BLAS")
    results["subnormal_slowdown"] = subnormal_slowdown()
    results["loading"] = time_loading(prepared)
    x, y = load_split(prepared, "train")
    assert y is not None
    data = {dtype: (x.astype(dtype, copy=False), y) for dtype in args.dtypes}
    layer_sizes = [x.shape[1], *cfg.model.hidden_sizes, N_CLASSES]
    results["floors"], results["runs"] = {}, {}
    for batch_size in args.batch_sizes:
        floors, runs = measure_batch_size(
            batch_size,
            layer_sizes,
            args.optimizers,
            args.dtypes,
            data,
            overrides,
            args.warmup,
            args.repeats,
            echo,
        )
        results["floors"][batch_name(batch_size)] = floors
        results["runs"].update(runs)
    if not args.no_stages:
        echo("  prepare stage and train stage memory, in child processes")
        results["prepare"] = in_child("prepare", list(args.overrides))
        results["train_memory"] = in_child("train-memory", overrides)
    results["peak_rss_bytes"] = peak_rss_bytes()
    results["load_average_after"] = os.getloadavg()[0]
    results["targets"] = check_targets(results)
    return results


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        measured = CHILDREN[args.child](args.overrides)
        measured["peak_rss_bytes"] = peak_rss_bytes()
        print(json.dumps(measured))
        return
    if args.compare:
        old, new = (json.loads(Path(path).read_text()) for path in args.compare)
        print("\n".join(compare_lines(old, new)))
        return
    if args.threads:
        with threadpool_limits(limits=args.threads, user_api="blas"):
            results = benchmark(args)
    else:
        results = benchmark(args)
    print("\n".join(["", *report_lines(results)]))
    write_json(args.output, results)
    print(f"\nbench: results -> {args.output}")


if __name__ == "__main__":
    run_stage(main)
