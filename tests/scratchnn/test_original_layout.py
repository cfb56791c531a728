"""The original script's weights layout: a folder of layer{i}_weights.npy / layer{i}_biases.npy."""

from pathlib import Path

import numpy as np
import pytest

from scratchnn import WeightsError, load_weights, mlp
from scratchnn.serialization import save_layer_files

SEED_WEIGHTS = Path(__file__).resolve().parents[2] / "examples" / "original_weights"
ORIGINAL_SHAPES = {
    "layer1_weights": (784, 128),
    "layer1_biases": (1, 128),
    "layer2_weights": (128, 64),
    "layer2_biases": (1, 64),
    "layer3_weights": (64, 10),
    "layer3_biases": (1, 10),
}


def original_forward(folder: Path, x: np.ndarray) -> np.ndarray:
    """The original script's forward pass, written out on the raw files: logits (n, 10)."""
    w = {name: np.load(folder / f"{name}.npy") for name in ORIGINAL_SHAPES}
    h1 = np.maximum(x @ w["layer1_weights"] + w["layer1_biases"], 0)
    h2 = np.maximum(h1 @ w["layer2_weights"] + w["layer2_biases"], 0)
    return h2 @ w["layer3_weights"] + w["layer3_biases"]


def write_layers(folder: Path, arrays: dict[str, np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", array)
    return folder


def float64_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    return {name: 0.1 * rng.standard_normal(shape) for name, shape in ORIGINAL_SHAPES.items()}


def test_seed_weights_load_bit_for_bit_in_float64():
    network = load_weights(SEED_WEIGHTS, n_inputs=784, n_outputs=10)
    assert network.dtype == np.float64 and network.layer_sizes == [784, 128, 64, 10]
    for i, layer in enumerate(network.dense_layers, start=1):
        np.testing.assert_array_equal(layer.W, np.load(SEED_WEIGHTS / f"layer{i}_weights.npy"))
        np.testing.assert_array_equal(layer.b, np.load(SEED_WEIGHTS / f"layer{i}_biases.npy"))


def test_seed_weights_give_the_original_forward_pass():
    x = np.random.default_rng(0).integers(0, 256, size=(300, 784)) / 255.0
    network = load_weights(SEED_WEIGHTS)
    np.testing.assert_allclose(network.forward(x), original_forward(SEED_WEIGHTS, x), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_export_then_import_gives_identical_weights_and_predictions(tmp_path, dtype):
    network = mlp([784, 128, 64, 10], rng=np.random.default_rng(1), dtype=dtype)
    network.params += dtype(0.01)  # nonzero biases
    written = save_layer_files(network, tmp_path / "layers")
    assert sorted(p.name for p in written) == sorted(f"{name}.npy" for name in ORIGINAL_SHAPES)
    for name, shape in ORIGINAL_SHAPES.items():  # plain np.load reads them, no pickle
        array = np.load(tmp_path / "layers" / f"{name}.npy", allow_pickle=False)
        assert array.shape == shape and array.dtype == dtype
    loaded = load_weights(tmp_path / "layers")
    assert loaded.dtype == dtype
    np.testing.assert_array_equal(loaded.params, network.params)
    x = np.random.default_rng(2).random((500, 784)).astype(dtype)
    np.testing.assert_array_equal(loaded.predict(x), network.predict(x))


def test_float64_folder_matches_the_written_out_forward_pass(tmp_path):
    folder = write_layers(tmp_path / "w", float64_arrays())
    x = np.random.default_rng(3).random((50, 784))
    network = load_weights(folder)
    assert network.dtype == np.float64
    np.testing.assert_array_equal(network.forward(x), original_forward(folder, x))


def test_transposed_weights_are_refused_not_guessed(tmp_path):
    arrays = float64_arrays()
    arrays["layer1_weights"] = arrays["layer1_weights"].T.copy()
    folder = write_layers(tmp_path / "w", arrays)
    with pytest.raises(
        WeightsError, match=r"layer1_weights\.npy has shape \(128, 784\), expected \(784, \*\)"
    ):
        load_weights(folder, n_inputs=784, n_outputs=10)


def test_flat_biases_name_layer_and_shapes(tmp_path):
    arrays = float64_arrays()
    arrays["layer2_biases"] = arrays["layer2_biases"].reshape(64)
    folder = write_layers(tmp_path / "w", arrays)
    with pytest.raises(
        WeightsError,
        match=r"layer2_biases\.npy has shape \(64,\) dtype float64, expected \(1, 64\)",
    ):
        load_weights(folder)


def test_wrong_number_of_classes_is_named(tmp_path):
    arrays = float64_arrays()
    arrays["layer3_weights"] = arrays["layer3_weights"][:, :9].copy()
    arrays["layer3_biases"] = arrays["layer3_biases"][:, :9].copy()
    folder = write_layers(tmp_path / "w", arrays)
    assert load_weights(folder).layer_sizes == [784, 128, 64, 9]  # fine without expectations
    with pytest.raises(
        WeightsError, match=r"layer3_weights\.npy has shape \(64, 9\), expected \(64, 10\)"
    ):
        load_weights(folder, n_inputs=784, n_outputs=10)


def test_missing_and_unreadable_files_are_named(tmp_path):
    arrays = float64_arrays()
    folder = write_layers(tmp_path / "w", arrays)
    (folder / "layer2_biases.npy").unlink()
    with pytest.raises(WeightsError, match=r"w: layer2_biases\.npy is missing"):
        load_weights(folder)
    write_layers(folder, arrays)
    (folder / "layer3_weights.npy").write_bytes(b"not numpy")
    with pytest.raises(WeightsError, match=r"layer3_weights\.npy: not a readable \.npy"):
        load_weights(folder)
    with pytest.raises(WeightsError, match=r"no layer1_weights\.npy"):
        load_weights(tmp_path)  # a folder with no layer files


def test_pickled_and_integer_arrays_are_refused(tmp_path):
    arrays = float64_arrays()
    folder = write_layers(tmp_path / "w", arrays)
    np.save(folder / "layer1_weights.npy", np.array([object()]), allow_pickle=True)
    with pytest.raises(WeightsError, match=r"layer1_weights\.npy: not a readable"):
        load_weights(folder)
    np.save(folder / "layer1_weights.npy", np.zeros((784, 128), dtype=np.int64))
    with pytest.raises(WeightsError, match=r"layer1_weights\.npy must be a 2-D float array"):
        load_weights(folder)
