import io
import json

import numpy as np
import pytest

from scratchnn import WeightsError, build_network, load_weights, mlp, save_weights


def saved(tmp_path, arrays: dict, name: str = "w.npz"):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def original_arrays() -> dict:
    network = mlp([784, 128, 64, 10], rng=np.random.default_rng(0), dtype=np.float64)
    return {
        f"layer{i}_{part}": getattr(layer, "W" if part == "weights" else "b")
        for i, layer in enumerate(network.dense_layers, 1)
        for part in ("weights", "biases")
    }


def test_round_trip_keeps_weights_dtype_and_predictions(tmp_path):
    network = mlp([784, 128, 64, 10], rng=np.random.default_rng(3))
    network.params += 0.01  # nonzero biases
    path = tmp_path / "model.npz"
    save_weights(network, path)
    loaded = load_weights(path)
    assert loaded.dtype == np.float32 and loaded.layer_sizes == [784, 128, 64, 10]
    np.testing.assert_array_equal(loaded.params, network.params)
    x = np.random.default_rng(0).random((20, 784), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(x), network.predict(x))


def test_file_uses_the_original_scripts_names_and_shapes():
    buffer = io.BytesIO()
    save_weights(mlp([784, 128, 64, 10], rng=np.random.default_rng(0)), buffer)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as npz:
        shapes = {key: npz[key].shape for key in npz.files if key != "architecture"}
        architecture = json.loads(str(npz["architecture"]))  # beside them: the architecture
    assert architecture["input_shape"] == [784] and architecture["dtype"] == "float32"
    assert [layer["type"] for layer in architecture["layers"]] == [
        "dense",
        "relu",
        "dense",
        "relu",
        "dense",
    ]
    assert shapes == {
        "layer1_weights": (784, 128),
        "layer1_biases": (1, 128),
        "layer2_weights": (128, 64),
        "layer2_biases": (1, 64),
        "layer3_weights": (64, 10),
        "layer3_biases": (1, 10),
    }


def test_missing_layer_is_named(tmp_path):
    arrays = original_arrays()
    del arrays["layer2_biases"]
    with pytest.raises(WeightsError, match="layer2_biases is missing"):
        load_weights(saved(tmp_path, arrays))


def test_wrong_shape_names_layer_and_shapes(tmp_path):
    arrays = original_arrays()
    arrays["layer2_weights"] = np.zeros((100, 64))
    with pytest.raises(WeightsError, match=r"layer2_weights has shape \(100, 64\), expected \(128"):
        load_weights(saved(tmp_path, arrays))


def test_pickled_object_arrays_are_refused(tmp_path):
    arrays = original_arrays()
    arrays["layer1_weights"] = np.array([object()], dtype=object)
    with pytest.raises(WeightsError, match="not a readable"):
        load_weights(saved(tmp_path, arrays))


def test_truncated_and_missing_files(tmp_path):
    path = saved(tmp_path, original_arrays())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="not a readable"):
        load_weights(path)
    with pytest.raises(WeightsError, match="no such weights file"):
        load_weights(tmp_path / "nope.npz")


CNN = [
    {"type": "conv2d", "filters": 3, "kernel": 3, "padding": 1},
    {"type": "batchnorm", "momentum": 0.8},
    {"type": "relu"},
    {"type": "maxpool2d", "pool": 2},
    {"type": "flatten"},
    {"type": "dropout", "rate": 0.5},
    {"type": "dense", "units": 10},
]


def trained_cnn(dtype=np.float32):
    network = build_network(CNN, (6, 6, 1), rng=np.random.default_rng(0), dtype=dtype)
    network.params += dtype(0.01)
    x = np.random.default_rng(1).random((8, 36)).astype(dtype)
    network.forward(x, training=True, rng=np.random.default_rng(2))  # running statistics move
    return network, x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_any_architecture_round_trips_with_its_state(tmp_path, dtype):
    network, x = trained_cnn(dtype)
    assert network.state.any()
    save_weights(network, tmp_path / "cnn.npz")
    loaded = load_weights(tmp_path / "cnn.npz", n_inputs=36, n_outputs=10)
    assert loaded.describe() == network.describe() and loaded.dtype == dtype
    np.testing.assert_array_equal(loaded.params, network.params)
    np.testing.assert_array_equal(loaded.state, network.state)
    np.testing.assert_array_equal(loaded.forward(x), network.forward(x))
    with np.load(tmp_path / "cnn.npz", allow_pickle=False) as npz:
        assert npz["layer1_weights"].shape == (3, 3, 1, 3)  # the arrays keep their shapes
        assert npz["layer2_running_var"].shape == (3,) and npz["layer3_weights"].shape == (27, 10)
    assert load_weights(tmp_path / "cnn.npz", dtype=np.float64).dtype == np.float64


def test_a_file_that_does_not_fit_names_the_layer_and_the_shapes(tmp_path):
    network, _ = trained_cnn()
    save_weights(network, tmp_path / "cnn.npz")
    with np.load(tmp_path / "cnn.npz") as npz:
        arrays = {key: npz[key] for key in npz.files}
    with pytest.raises(WeightsError, match=r"shape \(6, 6, 1\) \(36 values\), expected 784"):
        load_weights(tmp_path / "cnn.npz", n_inputs=784)
    with pytest.raises(
        WeightsError, match=r"layer3_weights has shape \(27, 10\), expected \(27, 9"
    ):
        load_weights(tmp_path / "cnn.npz", n_outputs=9)
    bad = {**arrays, "layer1_weights": np.zeros((3, 3, 2, 3), np.float32)}
    with pytest.raises(
        WeightsError,
        match=r"layer1_weights has shape \(3, 3, 2, 3\) dtype float32, "
        r"expected \(3, 3, 1, 3\) float for layers\[0\] \(conv2d\)",
    ):
        load_weights(saved(tmp_path, bad))
    missing = {key: value for key, value in arrays.items() if key != "layer2_running_mean"}
    with pytest.raises(
        WeightsError, match=r"layer2_running_mean is missing: layers\[1\] \(batchnorm\)"
    ):
        load_weights(saved(tmp_path, missing))
    with pytest.raises(WeightsError, match="layer4_weights belongs to no layer"):
        load_weights(saved(tmp_path, {**arrays, "layer4_weights": np.zeros(3)}))
    broken = dict(arrays)
    broken["architecture"] = np.array(
        str(arrays["architecture"]).replace('"kernel": 3', '"kernel": 0')
    )
    with pytest.raises(WeightsError, match=r"architecture\.layers\[0\]\.kernel=0 is not allowed"):
        load_weights(saved(tmp_path, broken))
    with pytest.raises(WeightsError, match="architecture is not valid JSON"):
        load_weights(saved(tmp_path, {**arrays, "architecture": np.array("{")}))


def test_files_written_before_the_architecture_load_as_a_relu_mlp(tmp_path):
    arrays = original_arrays()  # only layer{i}_weights / layer{i}_biases, as before
    network = load_weights(saved(tmp_path, arrays))
    assert [layer.type_name for layer in network.layers] == [
        "dense",
        "relu",
        "dense",
        "relu",
        "dense",
    ]
    assert network.dtype == np.float64
    np.testing.assert_array_equal(network.dense_layers[1].W, arrays["layer2_weights"])


def test_sizes_that_do_not_fit_are_named_as_for_the_original_layout(tmp_path):
    path = tmp_path / "nine.npz"
    save_weights(mlp([784, 16, 9], rng=np.random.default_rng(0)), path)
    with pytest.raises(
        WeightsError, match=r"layer2_weights has shape \(16, 9\), expected \(16, 10\) for 10"
    ):
        load_weights(path, n_inputs=784, n_outputs=10)
    with pytest.raises(
        WeightsError, match=r"layer1_weights has shape \(784, 16\), expected \(100, \*\)"
    ):
        load_weights(path, n_inputs=100)
    tanh_last = build_network(
        [{"type": "dense", "units": 4}, {"type": "tanh"}], (5,), rng=np.random.default_rng(0)
    )
    save_weights(tanh_last, tmp_path / "tanh.npz")
    with pytest.raises(WeightsError, match=r"layers\[1\] \(tanh\), gives 4 outputs, expected 10"):
        load_weights(tmp_path / "tanh.npz", n_outputs=10)
