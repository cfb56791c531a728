"""The machine a benchmark ran on: CPU, BLAS and its threads, load, memory, subnormals."""

import os
import platform
import resource
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info

from pipeline.config import PROJECT_ROOT

OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


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
