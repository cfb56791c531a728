"""The benchmark's plumbing on tiny generated arrays: what it measures and writes, not speed."""

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline import bench
from tests.conftest import digit_images


@pytest.fixture
def prepared(tmp_path: Path) -> Path:
    """A prepared-data folder of 120 training, 30 validation and 30 test rows."""
    folder = tmp_path / "prepared"
    folder.mkdir()
    for split, n, seed in (("train", 120, 1), ("val", 30, 2), ("test", 30, 3)):
        pixels, labels = digit_images(n, seed)
        np.save(folder / f"{split}_x.npy", (pixels / 255).astype(np.float32))
        np.save(folder / f"{split}_y.npy", labels.astype(np.int64))
    return folder


def test_flops_count_forward_weight_and_input_gradients_but_not_layer_1s(prepared):
    x = np.load(prepared / "train_x.npy")
    products = bench.EpochProducts(x, [784, 128, 64, 10], batch_size=32)
    forward = 784 * 128 + 128 * 64 + 64 * 10
    input_gradients = 128 * 64 + 64 * 10  # layers 2 and 3
    assert products.flops() == 2 * len(x) * (2 * forward + input_gradients)
    assert products.run() > 0


def test_a_run_writes_every_configuration_and_target(prepared, tmp_path, capsys):
    output = tmp_path / "bench.json"
    environment = dict(bench.os.environ)
    bench.main(
        [
            "--prepared",
            str(prepared),
            "--batch-sizes",
            "128",
            "full",
            "--repeats",
            "1",
            "--warmup",
            "0",
            "--no-stages",
            "--output",
            str(output),
        ]
    )
    assert dict(bench.os.environ) == environment  # thread and OpenBLAS settings left alone
    results = json.loads(output.read_text())
    assert set(results["runs"]) == {
        f"{optimizer}/{dtype}/{batch}"
        for dtype in ("float32", "float64")
        for optimizer, batch in (
            ("adam", "batch 128"),
            ("momentum", "batch 128"),
            ("adam", "full batch"),
            ("momentum", "full batch"),
            ("sgd", "full batch"),  # the original recipe: full batch only
        )
    }
    run = results["runs"]["adam/float32/batch 128"]
    assert run["batch_size"] == 128 and len(run["rounds"]) == 1
    assert run["ratio_to_float32_floor"] > 0
    assert set(run["breakdown_seconds"]) == {
        "products",
        "elementwise_and_python",
        "optimiser",
        "shuffling",
    }
    assert set(results["floors"]) == {"batch 128", "full batch"}
    assert results["machine"]["blas"] and results["machine"]["cores"] >= 1
    assert set(results["targets"]) >= {"adam/float32/batch 128", "sgd/float32/full batch"}
    printed = capsys.readouterr().out
    assert "GEMM floor" in printed and f"results -> {output}" in printed


def test_compare_lists_both_results(prepared, tmp_path, capsys):
    output = tmp_path / "bench.json"
    arguments = ["--prepared", str(prepared), "--batch-sizes", "full", "--dtypes", "float32"]
    arguments += ["--repeats", "1", "--warmup", "0", "--no-stages", "--output", str(output)]
    bench.main(arguments)
    capsys.readouterr()
    bench.main(["--compare", str(output), str(output)])
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("sgd/float32/full batch") for line in lines)


def test_openblas_and_thread_variables_are_reported(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    environment = bench.machine_facts()["environment"]
    assert environment["OPENBLAS_CORETYPE"] == "Haswell" and environment["OMP_NUM_THREADS"] == "2"


def test_stage_measurements_run_in_a_child_process(small_csvs):
    train_csv, test_csv = small_csvs
    overrides = [f"data.train_csv={train_csv}", f"data.test_csv={test_csv}", "data.val_size=50"]
    measured = bench.in_child("prepare", overrides)
    assert measured["rows"] == 400 and measured["seconds"] > 0
    assert measured["peak_rss_bytes"] > 0


def test_train_memory_is_measured_on_the_train_stage(prepared):
    measured = bench.child_train_memory([f"paths.prepared={prepared}"])
    assert measured["train_array_float32_bytes"] == 120 * 784 * 4
