"""Shared test helpers: small generated digit CSVs in both layouts, the overrides of a tiny
training on them, and a real `mlflow server`."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

# With pytest-xdist, each worker (and every process its tests start) gets its share of the cores
# for BLAS: two workers each running two OpenBLAS threads on two cores spin against each other.
# Set before NumPy is imported; a thread count the user set is kept.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _WORKERS)))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# Hypothesis profiles, chosen by HYPOTHESIS_PROFILE: "dev" (the default: a fresh random draw
# each run), "ci" (.ci/run: derandomised, so a CI failure is the same on every rerun) and "fuzz"
# (by hand, long: HYPOTHESIS_PROFILE=fuzz pytest tests/pipeline/test_digits_csv_fuzz.py;
# FUZZ_EXAMPLES=... sets how many files each test tries, 20,000 unless told).
_QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
# Hypothesis derandomises by itself wherever CI is set: "dev" and "fuzz" say they draw afresh.
settings.register_profile(
    "dev", max_examples=40, deadline=None, derandomize=False, suppress_health_check=_QUIET
)
settings.register_profile(
    "ci", max_examples=40, deadline=None, derandomize=True, suppress_health_check=_QUIET
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "20000")),
    deadline=None,
    derandomize=False,
    suppress_health_check=_QUIET,
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

N_PIXELS = 784


def digit_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` learnable fake digits: each class is a fixed random pattern (the same for every
    seed, so a training and a test file agree on what a "3" is) plus noise drawn from ``seed``.

    Returns pixels (n, 784) int in 0..255 and labels (n,) in 0..9, every class present.
    """
    prototypes = np.random.default_rng(12345).integers(0, 256, size=(10, N_PIXELS))
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    noise = rng.integers(-60, 61, size=(n, N_PIXELS))
    return np.clip(prototypes[labels] + noise, 0, 255), labels


def write_digits_csv(
    path: Path,
    n: int,
    *,
    layout: str = "mnist",
    labelled: bool = True,
    seed: int = 0,
    line_ending: str = "\n",
) -> tuple[np.ndarray, np.ndarray]:
    """Write a digit CSV in the ``mnist`` (label,1x1..28x28) or ``kaggle`` (label,pixel0..)
    layout; return what was written."""
    pixels, labels = digit_images(n, seed)
    if layout == "mnist":
        names = [f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)]
    else:
        names = [f"pixel{i}" for i in range(N_PIXELS)]
    header = (["label"] if labelled else []) + names
    rows = [",".join(header)]
    for label, row in zip(labels, pixels, strict=True):
        cells = ([str(label)] if labelled else []) + [str(v) for v in row]
        rows.append(",".join(cells))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((line_ending.join(rows) + line_ending).encode())
    return pixels, labels


@pytest.fixture(scope="session")
def mnist_csvs(tmp_path_factory) -> tuple[Path, Path]:
    """The real MNIST CSVs: the project's own after `make run`, else fetched (about 20 s)."""
    from pipeline.config import PROJECT_ROOT

    raw = PROJECT_ROOT / "data" / "raw"
    if not all((raw / f"mnist_{split}.csv").is_file() for split in ("train", "test")):
        from pipeline.stages.fetch import fetch

        raw = tmp_path_factory.mktemp("raw")
        fetch(raw)
    return raw / "mnist_train.csv", raw / "mnist_test.csv"


@pytest.fixture
def small_csvs(tmp_path: Path) -> tuple[Path, Path]:
    """A 300-row training CSV and a 100-row test CSV (mnist layout) in tmp_path/csv."""
    train, test = tmp_path / "csv" / "train.csv", tmp_path / "csv" / "test.csv"
    write_digits_csv(train, 300, seed=1)
    write_digits_csv(test, 100, seed=2)
    return train, test


def tiny_overrides(
    folder: Path,
    csvs: tuple[Path, Path],
    *,
    epochs: int = 3,
    batch_size: int = 32,
    hidden: str = "[16]",
    val_size: int = 50,
    experiment: str | None = None,
) -> list[str]:
    """Hydra overrides for a few-second training on ``csvs`` with every output in ``folder``."""
    overrides = [
        f"data.train_csv={csvs[0]}",
        f"data.test_csv={csvs[1]}",
        f"data.val_size={val_size}",
        f"paths.prepared={folder / 'prepared'}",
        f"paths.model={folder / 'models' / 'model.npz'}",
        f"paths.reports={folder / 'reports'}",
        f"train.epochs={epochs}",
        f"train.batch_size={batch_size}",
        f"model.hidden_sizes={hidden}",
    ]
    return overrides + ([f"tracking.experiment={experiment}"] if experiment else [])


def paused_training(folder: Path, env: dict[str, str], epoch: int) -> subprocess.Popen:
    """``python -m pipeline.stages.train`` in ``folder``, frozen (SIGSTOP) once it has printed
    ``epoch``: however fast it trains, it waits there for the test (SIGCONT lets it go on)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline.stages.train"],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("epoch") and int(line.split()[1].split("/")[0]) == epoch:
            process.send_signal(signal.SIGSTOP)
            break
    return process


def unavailable(message: str) -> NoReturn:
    """Skip a test this machine cannot run, saying why; in CI (``CI=true``: .ci/run installs
    every tool and runs as root) fail instead, so nothing is skipped there unnoticed."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_tool(found: str | None, name: str, why: str) -> None:
    """Skip where ``name`` is missing, except in CI (.ci/run installs it): there, fail."""
    if found is None:
        unavailable(f"{name} is not installed: {why} (.ci/run installs it: apt-get install {name})")


def hydra_config(*overrides: str):
    """The project's configuration with Hydra's own part (``.hydra``: launcher, sweeper), as a
    multirun composes it from ``conf/``."""
    from hydra import compose, initialize_config_dir

    from pipeline.config import PROJECT_ROOT

    with initialize_config_dir(str(PROJECT_ROOT / "conf"), version_base="1.3"):
        return compose("config", list(overrides), return_hydra_config=True)


def random_prepared(folder: Path, rows: dict[str, int]) -> Path:
    """A prepared-data folder of random float32 pixels and labels, ``rows`` per split."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split, n in rows.items():
        np.save(folder / f"{split}_x.npy", rng.random((n, 784), dtype=np.float32))
        np.save(folder / f"{split}_y.npy", rng.integers(0, 10, n))
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port where every connection is refused for the whole test: bound here but never
    listening, so no other process (another xdist worker's server, say) can take it meanwhile."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


@dataclass
class MlflowServer:
    """A real `mlflow server` on loopback, started in its own process group."""

    uri: str
    process: subprocess.Popen

    def stop(self) -> None:
        """Stop the server and every worker it started (the whole process group), also when
        the server itself has already exited and left workers behind."""
        for signum in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):  # the group is gone already
                os.killpg(self.process.pid, signum)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=3)


def start_mlflow_server(folder: Path, store: Path, log: Path) -> MlflowServer:
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{store}",
            "--artifacts-destination",
            str(folder / "server-artifacts"),
            "--workers",
            "1",
        ],
        # no job runner: its seven huey workers are for GenAI features and cost CPU all along
        env={
            **os.environ,
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        },
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    return MlflowServer(f"http://127.0.0.1:{port}", process)


@contextlib.contextmanager
def running_mlflow_server(folder: Path) -> Iterator[MlflowServer]:
    """A real `mlflow server` over a fresh SQLite store in ``folder``, stopped on exit. The port
    is probed, then given to the server: should another process take it in between, the server
    exits, and it is started again on another port."""
    store = folder / "server.db"
    log = folder / "mlflow-server.log"  # a file, not a pipe nobody reads: a full pipe blocks it
    server = start_mlflow_server(folder, store, log)
    try:
        deadline = time.monotonic() + 240  # its imports take a minute on a loaded machine
        attempts = 1
        while True:
            try:
                with urllib.request.urlopen(f"{server.uri}/health", timeout=2):
                    break
            except OSError:
                if server.process.poll() is not None and attempts < 3:
                    if "address already in use" not in log.read_text().lower():
                        raise RuntimeError(f"mlflow server exited: {log.read_text()}") from None
                    server.stop()
                    server, attempts = start_mlflow_server(folder, store, log), attempts + 1
                    continue
                if server.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mlflow server did not start: {log.read_text()}") from None
                time.sleep(0.5)
        yield server
    finally:
        server.stop()


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[MlflowServer]:
    with running_mlflow_server(tmp_path) as server:
        yield server


# The files of end-to-end tests that take 10 s or more, longest first (their summed time in a
# clean-clone CI run): started first, they leave the short tests for the end, where an idle
# worker steals them and the workers finish together
FIRST = (
    "test_recipes.py",
    "test_dvc_pipeline.py",
    "test_mlflow_models.py",
    "test_tracking.py",
    "test_tracking_server.py",
    "test_dvc_remote.py",
    "test_faults.py",
    "test_readme_claims.py",
    "test_optuna.py",
    "test_evaluation_log.py",
    "test_planted_secret.py",
    "test_joblib_workers.py",
    "test_sweep_interrupted.py",
    "test_sweep_models.py",
    "test_resume_after_interrupt.py",
)


def first_chunk_sizes(n_items: int, workers: int) -> list[int]:
    """How many tests each worker gets at the start under ``--dist worksteal`` (xdist hands the
    collection out in contiguous chunks, as even as it can, then idle workers steal from the
    tail of the others' chunks)."""
    sizes, left = [], n_items
    for worker in range(workers):
        sizes.append(left // (workers - worker))
        left -= sizes[-1]
    return sizes


def spread(
    heavy: list, light: list, workers: int, together: Callable[[Any], Hashable] = id
) -> list:
    """One collection order that starts each worker on heavy tests: the first heavy test (the
    longest) alone at the head of worker 0's chunk, the others dealt in turn to the heads of
    the other workers' chunks, the light tests after them (they are what idle workers steal).
    Heavy tests with the same ``together`` key are dealt as one, to one worker."""
    sizes = first_chunk_sizes(len(heavy) + len(light), workers)
    units: dict[Hashable, list] = {}
    for item in heavy[1:]:
        units.setdefault(together(item), []).append(item)
    heads: list[list] = [heavy[:1]] + [[] for _ in range(workers - 1)]
    for turn, unit in enumerate(units.values()):
        heads[1 + turn % (workers - 1)] += unit
    if any(len(head) > size for head, size in zip(heads, sizes, strict=True)):
        return heavy + light  # too few tests to spread
    ordered, rest = [], iter(light)
    for head, size in zip(heads, sizes, strict=True):
        ordered += head + [next(rest) for _ in range(size - len(head))]
    return ordered


def module_fixture_user(item: pytest.Item) -> Hashable:
    """The test's file if it uses a module-scoped fixture (built on every worker that runs a
    test of the file: seconds to a minute each), else the test itself."""
    info = getattr(item, "_fixtureinfo", None)
    definitions = info.name2fixturedefs.values() if info else ()
    if any(found and found[-1].scope == "module" for found in definitions):
        return item.path
    return item


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The minute-long tests first, spread over the xdist workers: ``long`` (whole recipes on
    the real MNIST) and ``minutes`` (waits on SLURM) before the files of FIRST, longest first.
    A minute-long test that starts late, or two queued on one worker, leave the suite waiting
    for them at its end. Tests of one file that share a module-scoped fixture start on one
    worker, which builds the fixture once."""

    def order(item: pytest.Item) -> tuple[bool, bool, int]:
        rank = FIRST.index(item.path.name) if item.path.name in FIRST else len(FIRST)
        not_long, not_minutes = (item.get_closest_marker(m) is None for m in ("long", "minutes"))
        return not_long, not_minutes, rank  # False sorts first

    items.sort(key=order)
    workers = _WORKERS if os.environ.get("PYTEST_XDIST_WORKER") else 1
    if workers > 1:
        light = (True, True, len(FIRST))  # the largest key: the light tests sort last
        heavy = [item for item in items if order(item) < light]
        items[:] = spread(heavy, items[len(heavy) :], workers, together=module_fixture_user)
