import io

import numpy as np
import pytest

from scratchnn import WeightsError, load_weights, mlp, save_weights


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
    with np.load(buffer) as npz:
        shapes = {key: npz[key].shape for key in npz.files}
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
