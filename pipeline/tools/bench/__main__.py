"""``make bench``: how close a training epoch comes to the time of its matrix products alone.

python -m pipeline.tools.bench                               # about 2 minutes on 2 idle cores
python -m pipeline.tools.bench --output old.json             # elsewhere than reports/benchmark.json
python -m pipeline.tools.bench --batch-sizes 128 --repeats 9 # fewer configurations, more rounds
python -m pipeline.tools.bench --compare old.json new.json   # two results side by side, runs none

For an MLP nearly all necessary work is matrix products, which NumPy hands to BLAS. The **GEMM
floor** is the time one epoch's products take alone, measured here at exactly the network's
shapes and layouts: per batch the forward products ``a @ W``, the weight gradients ``a.T @ dy``,
and the input gradients ``dy @ W.T`` of every layer but the first (nobody needs d(loss)/d(pixels)).
Every training epoch is reported as a multiple of it; the rest (bias adds, ReLU, softmax, the
optimiser, shuffling, Python) is overhead. The CNN section (``cnn.py``; ``--no-cnn`` skips it)
does the same for ``experiment=cnn`` at its im2col shapes; the sections of the newer families
(``families.py``; ``--no-families`` skips them) for training steps of ``experiment=lstm``,
``experiment=vit`` and ``experiment=resnet``, against the products their own layers make,
recorded from one step.
Other programs on the machine make timings noisy, so each round times the floor right before the
epochs it is compared with, a ratio is taken within its round, and every figure is the median
over the rounds, after a warm-up round.

Thread settings are the user's: ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` as set, or
``--threads N`` through threadpoolctl. ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` are printed
when set, never changed.
"""

import argparse
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from pipeline.cli import run_stage
from pipeline.config import compose, validate
from pipeline.data.artifacts import N_CLASSES, load_split
from pipeline.io import write_json
from pipeline.tools.bench.cnn import RECIPE, measure_cnn
from pipeline.tools.bench.epochs import BATCH_SIZES, DTYPES, batch_name, measure_batch_size
from pipeline.tools.bench.families import FAMILIES, measure_family
from pipeline.tools.bench.machine import (
    OPENBLAS_VARIABLES,
    machine_facts,
    peak_rss_bytes,
    subnormal_slowdown,
)
from pipeline.tools.bench.report import check_targets, compare_lines, report_lines
from pipeline.tools.bench.stages import CHILDREN, in_child, time_loading

DEFAULT_OUTPUT = "reports/benchmark.json"


def parse_batch_size(text: str) -> int | None:
    return None if text == "full" else int(text)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.tools.bench",
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
    parser.add_argument(
        "--no-cnn", action="store_true", help="skip the CNN section (experiment=cnn, ~2 minutes)"
    )
    parser.add_argument(
        "--no-families",
        action="store_true",
        help="skip the LSTM, ViT and ResNet sections (experiment=lstm, vit, resnet; ~2 minutes)",
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
    if not args.no_cnn:
        results["cnn"] = measure_cnn(x, y, overrides, args.warmup, min(args.repeats, 3), echo)
    if not args.no_families:
        results["families"] = {
            family: measure_family(family, x, y, overrides, args.warmup, min(args.repeats, 3), echo)
            for family in FAMILIES
        }
    if not args.no_stages:
        echo("  prepare stage and train stage memory, in child processes")
        results["prepare"] = in_child("prepare", list(args.overrides))
        results["train_memory"] = in_child("train-memory", overrides)
        if not args.no_cnn:
            results["cnn"]["train_memory"] = in_child("train-memory", [*overrides, RECIPE])
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


def run() -> None:
    """The console script (see pyproject.toml): errors as one line, exit codes as documented."""
    run_stage(main)


if __name__ == "__main__":
    run()
