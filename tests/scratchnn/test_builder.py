"""Networks from lists of dicts: shapes inferred, every key checked, errors that say where."""

import json

import numpy as np
import pytest

import scratchnn as sn
from scratchnn import LayerSpecError, build_network, check_layers, mlp

CNN = [
    {"type": "conv2d", "filters": 4, "kernel": 3, "padding": 1},
    {"type": "relu"},
    {"type": "maxpool2d", "pool": 2},
    {"type": "conv2d", "filters": 6, "kernel": 3, "stride": 2},
    {"type": "batchnorm"},
    {"type": "relu"},
    {"type": "flatten"},
    {"type": "dropout", "rate": 0.25},
    {"type": "dense", "units": 5},
]


def cnn(dtype=np.float64, seed=0) -> sn.Network:
    return build_network(CNN, (8, 8, 1), rng=np.random.default_rng(seed), dtype=dtype)


def test_shapes_are_inferred_layer_by_layer():
    network = cnn()
    shapes = [layer.output_shape for layer in network.layers]
    assert shapes == [
        (8, 8, 4),
        (8, 8, 4),
        (4, 4, 4),
        (1, 1, 6),
        (1, 1, 6),
        (1, 1, 6),
        (6,),
        (6,),
        (5,),
    ]
    assert check_layers(CNN, (8, 8, 1)) == shapes
    assert network.n_outputs == 5 and network.input_shape == (8, 8, 1)
    n_params = (9 * 4 + 4) + (9 * 4 * 6 + 6) + (6 + 6) + (6 * 5 + 5)
    assert network.parameter_count == network.params.size == n_params
    assert network.state.size == 12  # the batch norm's running mean and variance


def test_flat_rows_are_viewed_as_images_without_a_copy():
    network = cnn()
    x = np.random.default_rng(1).random((3, 64))
    first = network.layers[0]
    seen = []
    original = first.forward
    first.forward = lambda images, *args: seen.append(images) or original(images, *args)
    logits = network.forward(x)
    assert seen[0].shape == (3, 8, 8, 1) and np.shares_memory(seen[0], x)
    np.testing.assert_array_equal(logits, network.forward(x.reshape(3, 8, 8, 1)))


def test_describe_is_json_and_rebuilds_the_same_network():
    network = cnn()
    description = json.loads(json.dumps(network.describe()))
    assert description["layers"][0] == {
        "type": "conv2d",
        "filters": 4,
        "kernel": 3,
        "stride": 1,
        "padding": 1,
    }
    assert description["layers"][2] == {"type": "maxpool2d", "pool": 2, "stride": None}
    assert description["input_shape"] == [8, 8, 1] and description["dtype"] == "float64"
    assert description["parameter_count"] == network.parameter_count
    rebuilt = build_network(
        description["layers"],
        description["input_shape"],
        rng=np.random.default_rng(0),
        dtype=description["dtype"],
    )
    np.testing.assert_array_equal(rebuilt.params, network.params)  # the same seed: same weights


def test_same_seed_same_weights_and_initializers_by_name():
    np.testing.assert_array_equal(cnn(seed=3).params, cnn(seed=3).params)
    glorot = build_network(
        CNN, (8, 8, 1), rng=np.random.default_rng(0), initializer="glorot_uniform"
    )
    limit = np.sqrt(6 / (9 * 1 + 9 * 4))  # fan_in = k*k*c_in, fan_out = k*k*filters
    assert np.abs(glorot.layers[0].W).max() <= limit
    assert glorot.params.dtype == np.float32


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({2: {"type": "maxpool2d", "pool": 0}}, r"^layers\[2\]\.pool=0 is not allowed: "),
        (
            {0: {"type": "conv2d", "filters": 4, "kernel": 0}},
            r"^layers\[0\]\.kernel=0 is not allowed",
        ),
        ({1: {"type": "relu6"}}, r"^layers\[1\]\.type='relu6' is not allowed: the layer types are"),
        ({1: {"kind": "relu"}}, r"^layers\[1\]: type is missing"),
        ({1: "relu"}, r"^layers\[1\]: a layer is a mapping"),
        (
            {3: {"type": "conv2d", "filters": 6}},
            r"^layers\[3\]: kernel is missing: conv2d needs it",
        ),
        (
            {3: {"type": "conv2d", "filters": 6, "kernel": 3, "size": 2}},
            r"^layers\[3\]: size is not a setting of conv2d \(its settings: filters, kernel, ",
        ),
        (
            {3: {"type": "conv2d", "filters": 6, "kernel": 2.5}},
            r"^layers\[3\]\.kernel=2\.5 is not allowed: it must be an integer",
        ),
        ({3: {"type": "conv2d", "filters": True, "kernel": 3}}, r"layers\[3\]\.filters=True"),
        (
            {7: {"type": "dropout", "rate": "half"}},
            r"layers\[7\]\.rate='half' is not allowed: it must be a number",
        ),
        (
            {3: {"type": "conv2d", "filters": 6, "kernel": 9}},
            r"^layers\[3\]\.kernel=9 is not allowed: it is larger",
        ),
    ],
)
def test_errors_name_the_layer_and_the_key(change, message):
    specs = [change.get(i, spec) for i, spec in enumerate(CNN)]
    with pytest.raises(LayerSpecError, match=message):
        build_network(specs, (8, 8, 1), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=message.replace("^layers", "^model.layers")):
        check_layers(specs, (8, 8, 1), name="model.layers")


def test_a_network_must_end_in_class_scores_and_have_parameters():
    with pytest.raises(LayerSpecError, match=r"layers\[1\]: the last layer gives \(8, 8, 4\)"):
        build_network(CNN[:2], (8, 8, 1), rng=np.random.default_rng(0))
    no_flatten = [spec for spec in CNN if spec["type"] != "flatten"]  # dense maps each pixel
    with pytest.raises(LayerSpecError, match=r"layers\[7\]: the last layer gives \(1, 1, 5\)"):
        build_network(no_flatten, (8, 8, 1), rng=np.random.default_rng(0))
    with pytest.raises(LayerSpecError, match="at least one layer with parameters"):
        build_network([{"type": "relu"}], (4,), rng=np.random.default_rng(0))
    with pytest.raises(LayerSpecError, match=r"layers: the list of layers is empty"):
        build_network([], (4,), rng=np.random.default_rng(0))


def test_mlp_shorthand_with_activation_dropout_and_batch_norm():
    network = mlp(
        [6, 5, 4, 3], rng=np.random.default_rng(0), activation="tanh", dropout=0.2, batch_norm=True
    )
    assert [layer.type_name for layer in network.layers] == [
        "dense",
        "batchnorm",
        "tanh",
        "dropout",
        "dense",
        "batchnorm",
        "tanh",
        "dropout",
        "dense",
    ]
    assert network.layer_sizes == [6, 5, 4, 3] and network.n_outputs == 3
    plain = mlp([6, 5, 4, 3], rng=np.random.default_rng(0))
    assert [layer.type_name for layer in plain.layers] == [
        "dense",
        "relu",
        "dense",
        "relu",
        "dense",
    ]
    with pytest.raises(LayerSpecError, match="activation='softmax' is not allowed"):
        mlp([6, 3], rng=np.random.default_rng(0), activation="softmax")


def test_mlp_only_operations_on_a_cnn_name_the_layer_that_does_not_fit():
    with pytest.raises(ValueError, match=r"layer_sizes is for MLPs: the input shape \(8, 8, 1\)"):
        _ = cnn().layer_sizes
    assert len(cnn().dense_layers) == 1  # still a list of the dense layers
    with pytest.raises(
        sn.WeightsError, match=r"flat inputs .*, not layers\[0\] \(conv2d\) on inputs \(8, 8, 1\)"
    ):
        sn.serialization.weight_arrays(cnn())  # the original layout: ReLU MLPs only
    tanh_mlp = mlp([4, 3, 2], rng=np.random.default_rng(0), activation="tanh")
    assert tanh_mlp.layer_sizes == [4, 3, 2]
    with pytest.raises(sn.WeightsError, match=r"layers\[1\] is tanh"):
        sn.serialization.weight_arrays(tanh_mlp)
    ends_in_relu = build_network(
        [{"type": "dense", "units": 3}, {"type": "relu"}], (4,), rng=np.random.default_rng(0)
    )
    with pytest.raises(sn.WeightsError, match="ends with a dense layer, not ReLU"):
        sn.serialization.weight_arrays(ends_in_relu)
    with_dropout = mlp([4, 3, 2], rng=np.random.default_rng(0), dropout=0.5)
    assert list(sn.serialization.weight_arrays(with_dropout)) == [
        "layer1_weights",
        "layer1_biases",
        "layer2_weights",
        "layer2_biases",
    ]


def test_every_registered_type_is_buildable_by_name():
    assert set(sn.LAYER_TYPES) >= {
        "dense",
        "conv2d",
        "maxpool2d",
        "avgpool2d",
        "flatten",
        "dropout",
        "batchnorm",
        "relu",
        "sigmoid",
        "tanh",
        "leaky_relu",
        "gelu",
    }
