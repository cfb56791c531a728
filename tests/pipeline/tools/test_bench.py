"""The benchmark's plumbing on tiny generated arrays: what it measures and writes, not speed."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

import scratchnn as sn
from pipeline.tools.bench import __main__ as bench
from pipeline.tools.bench import cnn, families, floor, machine, stages
from tests.conftest import digit_images, random_prepared


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
    products = floor.EpochProducts(x, [784, 128, 64, 10], batch_size=32)
    forward = 784 * 128 + 128 * 64 + 64 * 10
    input_gradients = 128 * 64 + 64 * 10  # layers 2 and 3
    assert products.flops() == 2 * len(x) * (2 * forward + input_gradients)
    assert products.run() > 0


def test_a_run_writes_every_configuration_and_target(prepared, tmp_path, capsys, monkeypatch):
    """docs/speed.md: "The benchmark prints a note when the load average says the machine is busy"
    (a load average of 2.5 is made up for the run); and the output holds every configuration
    and target."""
    output = tmp_path / "bench.json"
    monkeypatch.setattr(os, "getloadavg", lambda: (2.5, 2.5, 2.5))
    environment = dict(os.environ)
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
    assert dict(os.environ) == environment  # thread and OpenBLAS settings left alone
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
    section = results["cnn"]
    assert section["recipe"] == "experiment=cnn" and section["rows"] == 120
    assert section["ratio_to_floor"] > 0 and section["floor"]["seconds"] > 0
    assert set(section["breakdown_seconds"]) == {
        "products",
        "conv_copies",
        "pooling",
        "elementwise",
        "optimiser",
        "loss_batches_python",
    }
    assert section["augmentation"]["seconds_per_epoch"] > 0
    assert "cnn epoch / its GEMM floor" in results["targets"]
    printed = capsys.readouterr().out
    for family in ("lstm", "vit", "resnet"):
        section = results["families"][family]
        assert section["recipe"] == f"experiment={family}" and section["steps"] == 1
        assert section["ratio_to_floor"] > 0 and section["floor"]["flops"] > 0
        assert f"{family} steps / their GEMM floor" in results["targets"]
        assert f"{family.upper()} (experiment={family}: float32, batch 128, 1 steps" in printed
    assert "GEMM floor" in printed and f"results -> {output}" in printed
    assert "CNN (experiment=cnn: Adam, float32, batch 128, 120 rows" in printed
    assert "note: the load average is 2.5: other programs are using the CPU" in printed
    assert "2.5 before the run, 2.5 after (which counts this run): other programs were" in printed


def test_compare_lists_both_results(prepared, tmp_path, capsys):
    output = tmp_path / "bench.json"
    arguments = ["--prepared", str(prepared), "--batch-sizes", "full", "--dtypes", "float32"]
    arguments += ["--repeats", "1", "--warmup", "0", "--no-stages", "--no-cnn", "--no-families"]
    arguments += ["--output", str(output)]
    bench.main(arguments)
    capsys.readouterr()
    bench.main(["--compare", str(output), str(output)])
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("sgd/float32/full batch") for line in lines)


def test_cnn_floor_counts_each_layers_products_at_the_im2col_shapes():
    network = sn.build_network(
        [
            {"type": "conv2d", "filters": 4, "kernel": 3, "padding": 1},  # 8x8x1 -> 8x8x4
            {"type": "relu"},
            {"type": "maxpool2d", "pool": 2},  # -> 4x4x4
            {"type": "conv2d", "filters": 6, "kernel": 3},  # -> 2x2x6
            {"type": "flatten"},
            {"type": "dense", "units": 10},
        ],
        (8, 8, 1),
        rng=np.random.default_rng(0),
    )
    products = cnn.NetworkProducts(network, n_rows=20, batch_size=8)  # batches 8, 8, 4
    first = 2 * 2 * (8 * 8) * (3 * 3 * 1) * 4  # forward and dW; no dx for the first layer
    second = 3 * 2 * (2 * 2) * (3 * 3 * 4) * 6  # forward, dW, and 9 products of dx
    dense = 3 * 2 * 24 * 10
    assert products.flops() == 20 * (first + second + dense)
    seconds = products.run()
    assert set(seconds) == {"0 conv2d", "3 conv2d", "5 dense"} and min(seconds.values()) > 0


def test_timed_layers_times_by_kind_and_puts_the_methods_back():
    network = sn.build_network(
        [
            {"type": "conv2d", "filters": 2, "kernel": 3},
            {"type": "flatten"},
            {"type": "dense", "units": 10},
        ],
        (5, 5, 1),
        rng=np.random.default_rng(0),
    )
    x = np.random.default_rng(1).random((4, 25), dtype=np.float32)
    with cnn.timed_layers(network) as seconds:
        network.forward(x, training=True)
    assert seconds["conv"] > 0 and seconds["dense"] > 0 and "elementwise" in seconds
    assert all("forward" not in vars(layer) for layer in network.layers)


def test_openblas_and_thread_variables_are_reported(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    environment = machine.machine_facts()["environment"]
    assert environment["OPENBLAS_CORETYPE"] == "Haswell" and environment["OMP_NUM_THREADS"] == "2"


def test_stage_measurements_run_in_a_child_process(small_csvs):
    train_csv, test_csv = small_csvs
    overrides = [f"data.train_csv={train_csv}", f"data.test_csv={test_csv}", "data.val_size=50"]
    measured = stages.in_child("prepare", overrides)
    assert measured["rows"] == 400 and measured["seconds"] > 0
    assert measured["peak_rss_bytes"] > 0


def test_train_memory_is_measured_on_the_train_stage(tmp_path):
    """In a child process: its peak holds at least the training array on top of the imports.
    The array (12,000 rows, 37.6 MB) is large enough that a peak measured before it was loaded,
    or in another process, would fall short."""
    folder = random_prepared(tmp_path / "prepared", {"train": 12_000, "val": 100, "test": 100})
    measured = stages.in_child("train-memory", [f"paths.prepared={folder}"])
    array = measured["train_array_float32_bytes"]
    assert array == 12_000 * 784 * 4
    assert measured["peak_rss_bytes"] >= measured["rss_after_imports_bytes"] + array


def test_sweep_benchmark_commands_and_report(tmp_path):
    from pipeline.tools import bench_sweep

    sequential = bench_sweep.sweep_command("0.1,0.2", 1, ["train.epochs=2"], tmp_path / "s")
    parallel = bench_sweep.sweep_command("0.1,0.2", 2, ["train.epochs=2"], tmp_path / "p")
    assert sequential[1:] == [
        "-m",
        "pipeline.tools.sweep",
        "-m",
        "optimizer.lr=0.1,0.2",
        "train.epochs=2",
        f"hydra.sweep.dir={tmp_path / 's'}",
    ]
    assert parallel[5:7] == ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    printed = "\n".join(
        [
            "epoch 1/2  lr 0.100000  loss 0.3449  acc 90.02%  val_loss 0.17  val_acc 94.74%  0.5s",
            "epoch 2/2  lr 0.050000  loss 0.1449  acc 95.02%  val_loss 0.12  val_acc 96.74%  0.7s",
            "[HYDRA] Launching 2 jobs locally",
        ]
    )
    assert bench_sweep.epoch_seconds(printed) == [0.5, 0.7]
    results = bench_sweep.summary(
        {"command": "a", "seconds": 80.0, "epochs": 4, "median_epoch_seconds": 0.6},
        {"command": "b", "seconds": 50.0, "epochs": 4, "median_epoch_seconds": 0.75},
    )
    assert results["speedup"] == 1.6 and results["epoch_slowdown_in_parallel"] == 1.25
    assert "speed-up: 1.60x" in bench_sweep.report(results)


def test_the_recorded_floor_records_every_product_of_a_training_step():
    """An LSTM of 4 steps, then a dense layer: x @ W once for all steps, h @ U at each step,
    back through time da @ U.T at each step but the first (nobody needs dL/dh_0), then dU, dW
    and db at once (the LSTM is the first layer: no dx); the dense layer's four; the loss's
    sums of each row's exponentials, a product too."""
    network = sn.build_network(
        [{"type": "lstm", "units": 3}, {"type": "dense", "units": 10}],
        (4, 5),
        rng=np.random.default_rng(0),
    )
    x = np.random.default_rng(1).random((6, 20), dtype=np.float32)
    products = families.step_products(network, x, np.arange(6))
    assert len(products) == (1 + 4) + (3 + 3) + 4 + 1
    lstm = network.layers[0]
    assert sum(b is lstm.U for _, b, _ in products) == 4  # the forward steps' h @ U
    recurrent_flops = 2 * 6 * 3 * 12 * (4 + 3)  # (6, 3) @ (3, 12): 4 forward, 3 backward
    assert families.flops(products[1:5]) == 2 * 6 * 3 * 12 * 4
    assert families.flops(products) > recurrent_flops
    assert families.replay(products, steps=2) > 0


def test_the_recorded_floor_holds_a_convolutions_im2col_products():
    """A 3x3 convolution of 2 filters over 6x6 grey images, then a dense layer: forward
    cols @ W (cols: 6 images x 36 pixels, 9 values each), the weights' cols.T @ dy and the
    biases' ones @ dy (the first layer: no dx); the dense layer's four; the loss's one."""
    network = sn.build_network(
        [
            {"type": "conv2d", "filters": 2, "kernel": 3, "padding": 1},
            {"type": "flatten"},
            {"type": "dense", "units": 10},
        ],
        (6, 6, 1),
        rng=np.random.default_rng(0),
    )
    x = np.random.default_rng(1).random((6, 36), dtype=np.float32)
    products = families.step_products(network, x, np.arange(6))
    assert len(products) == 3 + 4 + 1
    assert families.flops(products[:1]) == 2 * (6 * 36) * 9 * 2
    assert products[0][1] is network.layers[0]._W_matrix
