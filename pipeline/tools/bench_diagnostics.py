"""What the per-layer statistics (``train.diagnostics``) cost an epoch, measured.

python -m pipeline.tools.bench_diagnostics                      # the default recipe
python -m pipeline.tools.bench_diagnostics experiment=cnn --epochs 2 --pairs 3

Trains the configured network on the prepared data as ``train`` does, with the statistics and
without, in alternating runs (so both see the machine in the same state), and times whole
epochs: the steps, the validation pass, and the statistics at the epoch's end. Prints the
median epoch of each and their ratio; the goal is at most 1.03. It also times the statistics'
own code inside the watched epochs, which a busy machine disturbs far less than the ratio.
"""

import argparse
import statistics
import time

import numpy as np

import scratchnn as sn
from pipeline.cli import run_stage
from pipeline.config import Config, compose, validate
from pipeline.data.artifacts import N_CLASSES, load_split
from pipeline.network.factory import build_network, build_optimizer, build_schedule
from pipeline.stages.train import DYNAMICS_IMAGES


def epoch_seconds(
    cfg: Config, watch: bool, data: tuple, epochs: int, inside: list[float]
) -> list[float]:
    """The wall-clock seconds of each epoch, callbacks included; the seconds spent in the
    statistics' own code are added to ``inside``, per epoch."""
    (x, y), validation = data
    network = build_network(cfg, n_inputs=x.shape[1], n_classes=N_CLASSES)
    dynamics = sn.LayerDynamics(network, x[:DYNAMICS_IMAGES]) if watch else None
    ends = [time.perf_counter()]
    spent = [0.0]

    def on_batch_end(done: int, total: int) -> None:
        started = time.perf_counter()
        dynamics.on_batch_end(done, total)  # type: ignore[union-attr]
        spent[0] += time.perf_counter() - started

    def after_epoch(_: sn.EpochMetrics) -> None:
        if dynamics is not None:
            started = time.perf_counter()
            dynamics.epoch_end()
            inside.append(spent[0] + time.perf_counter() - started)
            spent[0] = 0.0
        ends.append(time.perf_counter())

    sn.fit(
        network,
        build_optimizer(cfg, network),
        build_schedule(cfg),
        x,
        y,
        epochs=epochs,
        batch_size=cfg.train.batch_size,
        rng=np.random.default_rng([cfg.train.seed, 1]),
        validation=validation,
        weight_decay=cfg.train.weight_decay,
        clip_norm=cfg.train.clip_norm,
        on_epoch_end=after_epoch,
        on_batch_end=on_batch_end if dynamics is not None else None,
    )
    return list(np.diff(ends))


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.tools.bench_diagnostics",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. experiment=cnn")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run (default 2)")
    parser.add_argument("--pairs", type=int, default=3, help="runs with and without (default 3)")
    args = parser.parse_args()
    cfg = validate(compose(args.overrides))
    dtype = np.dtype(cfg.dtype.value)
    x, y = load_split(cfg.paths.prepared, "train")
    x_val, y_val = load_split(cfg.paths.prepared, "val")
    data = ((x.astype(dtype), y), (x_val.astype(dtype), y_val))
    seconds: dict[bool, list[float]] = {False: [], True: []}
    inside: list[float] = []
    for pair in range(args.pairs):
        for watch in (False, True) if pair % 2 == 0 else (True, False):
            seconds[watch] += epoch_seconds(cfg, watch, data, args.epochs, inside)
    plain, watched = (statistics.median(seconds[watch]) for watch in (False, True))
    own = statistics.median(inside)
    print(f"epochs without the statistics: median {plain:.3f} s of {len(seconds[False])}")
    print(f"epochs with them:              median {watched:.3f} s of {len(seconds[True])}")
    print(f"ratio {watched / plain:.3f} (goal: at most 1.03; on a busy machine, mostly noise)")
    print(
        f"the statistics' own code: {own * 1000:.1f} ms an epoch, "
        f"{own / plain:.2%} of an epoch without them"
    )


if __name__ == "__main__":
    run_stage(main)
