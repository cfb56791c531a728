"""The stages' own costs: loading the prepared data, ``prepare``'s time, ``train``'s peak memory
(the last two in child processes, so each peak is its own)."""

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.config import PROJECT_ROOT, compose, validate
from pipeline.data.artifacts import load_split
from pipeline.stages.prepare import prepare
from pipeline.tools.bench.machine import peak_rss_bytes


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
    from pipeline.stages.train import train  # the stage's own imports count towards its memory

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
    command = [sys.executable, "-m", "pipeline.tools.bench", "--child", task, *overrides]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1:] or [f"exit {result.returncode}"]}
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    measured["process_seconds"] = time.perf_counter() - started
    return measured
