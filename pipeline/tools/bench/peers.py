"""``make bench-peers``: scratchnn's training epochs against PyTorch's, same networks, this CPU.

python -m pipeline.tools.bench.peers                  # after make run; about 4 minutes
python -m pipeline.tools.bench.peers --rows 10000     # the first 10,000 training rows only
python -m pipeline.tools.bench.peers --threads 1      # both libraries on one thread

Two networks: the CNN of ``experiment=cnn`` and the default MLP (784-128-64-10), each with its
recipe's Adam at batch 128 in float32 on the prepared MNIST training rows. For each, one epoch of
scratchnn, then one of its PyTorch twin (``torch_twin.py``: the same layers, rate, betas and
weight decay), round after round in one process, so both see the machine as it is at that
minute; each round's ratio is scratchnn's epoch / PyTorch's, and the figure is the median over
the rounds after a warm-up round. PyTorch gets as many threads as NumPy's BLAS has.

PyTorch is not a dependency of the project: ``make bench-peers`` installs a pinned version into
an environment of its own (``.venv-peers``, over the project's packages). Where it cannot be
installed or imported, the benchmark says so in one line and times scratchnn alone (exit 0).
"""

import argparse
import importlib
import os
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from pipeline.cli import run_stage
from pipeline.config import Config, compose, validate
from pipeline.data.artifacts import N_CLASSES, load_split
from pipeline.errors import PipelineError
from pipeline.io import write_json
from pipeline.network.factory import build_network, build_optimizer
from pipeline.tools.bench.cnn import one_epoch
from pipeline.tools.bench.epochs import median_ratio
from pipeline.tools.bench.machine import machine_facts

NETWORKS = {"cnn": ["experiment=cnn"], "mlp": []}  # name -> the recipe's overrides
CNN_TARGET = 0.8  # scratchnn's CNN epoch / PyTorch's
DEFAULT_OUTPUT = "reports/bench_peers.json"
INSTALL_HINT = "make bench-peers installs it into .venv-peers"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.tools.bench.peers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help="where the JSON results go")
    parser.add_argument("--prepared", help="prepared-data folder (default: paths.prepared)")
    parser.add_argument("--rows", type=int, help="train on the first ROWS rows only")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    parser.add_argument("--threads", type=int, help="limit both libraries to N threads")
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    return parser.parse_args(argv)


def import_torch() -> tuple[ModuleType | None, str]:
    """PyTorch, or None and one line saying why not."""
    try:
        torch = importlib.import_module("torch")
    except (ImportError, OSError) as error:  # OSError: a wheel whose libraries do not load
        return None, f"PyTorch cannot be imported ({error}; {INSTALL_HINT}): scratchnn alone"
    return torch, ""


def blas_threads() -> int:
    """The threads NumPy's BLAS uses: PyTorch gets as many."""
    counts = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
    return max(counts, default=1)


class ScratchRun:
    """``cfg``'s network and optimiser in scratchnn, trained an epoch at a time like ``train``."""

    def __init__(self, cfg: Config, x: np.ndarray, y: np.ndarray) -> None:
        self.cfg, self.x, self.y = cfg, x, y
        self.network = build_network(cfg, n_inputs=x.shape[1], n_classes=N_CLASSES)
        self.optimizer = build_optimizer(cfg, self.network)
        self.rng = np.random.default_rng([cfg.train.seed, 1])

    def epoch(self) -> float:
        return one_epoch(self.cfg, self.network, self.optimizer, self.x, self.y, self.rng)


def measure(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    torch: ModuleType | None,
    args: argparse.Namespace,
    echo: Callable[[str], None],
) -> dict[str, Any]:
    """Rounds of (a scratchnn epoch, a PyTorch epoch) of one network; medians and ratio."""
    cfg = validate(compose([*NETWORKS[name], "dtype=float32"]))
    scratch = ScratchRun(cfg, x, y)
    twin = None
    if torch is not None:
        from pipeline.tools.bench.torch_twin import TorchRun

        twin = TorchRun(torch, cfg, scratch.network, x, y)
    rounds: dict[str, list[float]] = {"scratchnn": [], "pytorch": []}
    for round_ in range(args.warmup + args.repeats):
        times = {"scratchnn": scratch.epoch()}
        if twin is not None:
            times["pytorch"] = twin.epoch()
        if round_ >= args.warmup:
            for library, seconds in times.items():
                rounds[library].append(seconds)
        shown = ", ".join(f"{library} {seconds:.2f} s" for library, seconds in times.items())
        echo(f"  {name}: round {round_ + 1}/{args.warmup + args.repeats}: {shown}")
    result: dict[str, Any] = {
        "recipe": " ".join(NETWORKS[name]) or "the default",
        "layers": scratch.network.describe()["layers"],
        "batch_size": cfg.train.batch_size,
        "rows": len(x),
        "rounds": {library: times for library, times in rounds.items() if times},
        "scratchnn_seconds": statistics.median(rounds["scratchnn"]),
    }
    if twin is not None:
        result["pytorch_seconds"] = statistics.median(rounds["pytorch"])
        result["ratio"] = median_ratio(rounds["scratchnn"], rounds["pytorch"])
    return result


def report_lines(results: dict[str, Any]) -> list[str]:
    torch = results.get("pytorch")
    machine = results["machine"]
    lines = [
        f"machine: {machine['cpu']}, {machine['cores']} cores, {results['threads']} threads "
        f"each; load average {machine['load_average_before']:.1f} before, "
        f"{results['load_average_after']:.1f} after",
        f"PyTorch {torch['version']}" if torch else results["torch_missing"],
    ]
    for name, run in results["networks"].items():
        line = f"{name} ({run['recipe']}, batch {run['batch_size']}, {run['rows']:,} rows): "
        line += f"scratchnn {run['scratchnn_seconds']:.2f} s an epoch"
        if "ratio" in run:
            line += f", PyTorch {run['pytorch_seconds']:.2f} s: {run['ratio']:.2f} x PyTorch's"
            if name == "cnn":
                met = "ok" if run["ratio"] <= CNN_TARGET else "MISSED"
                line += f" (target <= {CNN_TARGET}: {met})"
        lines.append(line)
    return lines


def benchmark(args: argparse.Namespace, echo: Callable[[str], None] = print) -> dict[str, Any]:
    cfg = validate(compose([]))
    prepared = Path(args.prepared or cfg.paths.prepared)
    if not (prepared / "train_x.npy").exists():
        raise PipelineError(f"no prepared data in {prepared}: run `make run` first")
    x, y = load_split(prepared, "train")
    assert y is not None
    if args.rows:
        x, y = x[: args.rows], y[: args.rows]
    x = x.astype(np.float32, copy=False)
    results: dict[str, Any] = {"machine": machine_facts(), "threads": blas_threads()}
    torch, missing = import_torch()
    if torch is None:
        echo(missing)
        results["torch_missing"] = missing
    else:
        torch.set_num_threads(results["threads"])
        results["pytorch"] = {"version": torch.__version__, "threads": torch.get_num_threads()}
    results["networks"] = {name: measure(name, x, y, torch, args, echo) for name in args.networks}
    results["load_average_after"] = os.getloadavg()[0]
    return results


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with threadpool_limits(limits=args.threads, user_api="blas"):  # None: as they are
        results = benchmark(args)
    print("\n".join(["", *report_lines(results)]))
    write_json(args.output, results)
    print(f"\nbench-peers: results -> {args.output}")


if __name__ == "__main__":
    run_stage(main)
