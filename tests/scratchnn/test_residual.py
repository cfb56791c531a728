import json

import numpy as np
import pytest

from scratchnn import (
    LayerSpecError,
    Residual,
    SoftmaxCrossEntropy,
    build_network,
    load_weights,
    save_weights,
)
from scratchnn.builder import layers_from_specs

from .gradcheck import assert_close, numerical_gradient
from .helpers import bound, check_gradients
from .reference import conv2d


def conv(filters: int, stride: int = 1) -> dict:
    return {"type": "conv2d", "filters": filters, "kernel": 3, "stride": stride, "padding": 1}


BN, RELU, DENSE = {"type": "batchnorm"}, {"type": "relu"}, {"type": "dense", "units": 2}


def block(specs: list[dict], **settings) -> Residual:
    return Residual(layers_from_specs(specs), **settings)


def images(shape: tuple[int, ...], n: int = 3, seed: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, *shape))


@pytest.mark.parametrize(
    ("specs", "shortcut", "output_shape"),
    [
        ([conv(2), BN, RELU, conv(2), BN], "auto", (4, 4, 2)),  # identity
        ([conv(3, stride=2), BN, RELU, conv(3), BN], "auto", (2, 2, 3)),  # projection
        ([conv(2), BN], "projection", (4, 4, 2)),  # projection although the shapes agree
        ([{"type": "tanh"}, {"type": "relu"}], "identity", (4, 4, 2)),  # tanh reads its output
    ],
)
def test_gradients_of_input_and_every_parameter_match_finite_differences(
    specs, shortcut, output_shape
):
    layer = bound(block(specs, shortcut=shortcut), (4, 4, 2), rng=np.random.default_rng(1))
    assert layer.output_shape == output_shape
    check_gradients(layer, images((4, 4, 2)), training=True)


def test_identity_block_computes_the_body_plus_its_input():
    layer = bound(block([conv(2)]), (4, 4, 2), rng=np.random.default_rng(1))
    x = images((4, 4, 2))
    W, b = layer.params["0.weights"], layer.params["0.biases"]
    np.testing.assert_allclose(layer.forward(x), conv2d(x, W, b, 1, 1) + x, rtol=1e-12)


def test_projection_is_a_strided_1x1_convolution_then_batch_norm():
    layer = bound(block([conv(3, stride=2)]), (5, 5, 2), rng=np.random.default_rng(1))
    assert layer.param_shapes() == {
        "0.weights": (3, 3, 2, 3),
        "0.biases": (3,),
        "shortcut.0.weights": (1, 1, 2, 3),
        "shortcut.0.biases": (3,),
        "shortcut.1.gamma": (3,),
        "shortcut.1.beta": (3,),
    }
    assert layer.state_shapes() == {
        "shortcut.1.running_mean": (3,),
        "shortcut.1.running_var": (3,),
    }
    x = images((5, 5, 2))
    p = layer.params
    body = conv2d(x, p["0.weights"], p["0.biases"], 2, 1)
    projected = conv2d(x, p["shortcut.0.weights"], p["shortcut.0.biases"], 2, 0)  # (3, 3, 3)
    # evaluation mode: batch norm with its initial running statistics (mean 0, var 1)
    scale = p["shortcut.1.gamma"] / np.sqrt(1 + 1e-5)
    expected = body + projected * scale + p["shortcut.1.beta"]
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12)


def test_float32_forward_agrees_with_float64():
    specs = [conv(3, stride=2), BN, RELU, conv(3), BN]
    wide = bound(block(specs), (6, 6, 2), np.float64, rng=np.random.default_rng(4))
    narrow = bound(block(specs), (6, 6, 2), np.float32)
    narrow.flat_params[...] = wide.flat_params
    x = images((6, 6, 2))
    y32 = narrow.forward(x.astype(np.float32), training=True)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, wide.forward(x, training=True), rtol=1e-4, atol=1e-4)


def test_children_never_write_over_the_blocks_input():
    # conv -> [batchnorm, relu]: a plain chain would let batch norm overwrite the conv's output,
    # which the identity shortcut adds afterwards; the relu after it may work in place
    network = build_network(
        [conv(2), {"type": "residual", "layers": [BN, RELU]}, {"type": "flatten"}, DENSE],
        (4, 4, 1),
        rng=np.random.default_rng(0),
        dtype=np.float64,
    )
    residual = network.layers[1]
    assert [child.in_place for child in residual.layers] == [False, True]
    x = images((4, 4, 1))
    network.forward(x, training=True)
    conv_out = network.layers[0]._y.take(len(x))  # the block's input, as the conv wrote it
    features = conv_out.reshape(-1, 2)
    normalised = (conv_out - features.mean(axis=0)) / np.sqrt(features.var(axis=0) + 1e-5)
    expected = np.maximum(normalised, 0) + conv_out
    np.testing.assert_allclose(residual._y.take(len(x)), expected, rtol=1e-12)


def small_resnet(seed: int = 0, dtype: type = np.float64):
    specs = [
        conv(2),
        BN,
        RELU,
        {"type": "residual", "layers": [conv(2), BN, RELU, conv(2), BN]},
        RELU,
        {"type": "residual", "layers": [conv(3, stride=2), BN, RELU, conv(3), BN]},
        RELU,
        {"type": "global_avgpool"},
        {"type": "dense", "units": 3},
    ]
    return build_network(specs, (5, 5, 1), rng=np.random.default_rng(seed), dtype=dtype)


def test_whole_resnet_gradient_matches_finite_differences():
    network = small_resnet()
    rng = np.random.default_rng(1)
    network.params += 0.1 * rng.standard_normal(network.params.size)  # biases, beta nonzero
    x = rng.standard_normal((4, 25))
    labels = np.array([0, 1, 2, 1])
    loss_fn = SoftmaxCrossEntropy(3, np.float64)

    def loss() -> float:
        return loss_fn.forward(network.forward(x, training=True), labels)

    loss()
    network.backward(loss_fn.backward())
    analytic = network.grads.copy()
    assert_close(analytic, numerical_gradient(loss, network.params), rtol=1e-5)


def test_nested_layers_view_the_networks_one_buffer_and_state():
    network = small_resnet()
    projection_bn = network.layers[5].projection.layers[1]
    assert np.shares_memory(projection_bn.gamma, network.params)
    assert np.shares_memory(projection_bn.running_var, network.state)
    np.testing.assert_array_equal(projection_bn.gamma, 1)  # initial values reach nested layers
    np.testing.assert_array_equal(projection_bn.running_var, 1)
    assert network.parameter_count == network.params.size == network.describe()["parameter_count"]


def test_decay_mask_covers_exactly_the_weights_nested_ones_included():
    network = small_resnet()
    network.params[...] = network.decay_mask  # 1 where weight decay shrinks, else 0
    arrays = {}
    for i, layer in enumerate(network.layers):
        arrays |= {f"{i}.{name}": view for name, view in getattr(layer, "params", {}).items()}
    assert "5.shortcut.0.weights" in arrays and "3.4.gamma" in arrays
    for name, view in arrays.items():
        expected = 1 if name.endswith("weights") else 0  # not biases, gamma nor beta
        np.testing.assert_array_equal(view, expected, err_msg=name)


def test_round_trip_of_a_nested_network_gives_identical_logits(tmp_path):
    network = small_resnet(dtype=np.float32)
    x = images((25,), n=6).astype(np.float32)
    network.forward(x, training=True)  # running statistics away from their initial values
    path = tmp_path / "resnet.npz"
    save_weights(network, path)
    with np.load(path) as npz:
        assert "layer4_shortcut.1.running_var" in npz.files
        assert json.loads(str(npz["architecture"]))["layers"][5]["layers"][0]["stride"] == 2
    loaded = load_weights(path)
    np.testing.assert_array_equal(loaded.forward(x), network.forward(x))
    assert loaded.describe() == network.describe()


@pytest.mark.parametrize(
    ("inner", "message"),
    [
        ({"layers": [RELU, {**conv(2), "filters": 0}]}, "model.layers[1].layers[1].filters=0 is"),
        ({"layers": [{**conv(2), "kernel": 9}]}, "model.layers[1].layers[0].kernel=9 is not"),
        ({"layers": [{"type": "pool"}]}, "model.layers[1].layers[0].type='pool' is not allowed"),
        ({"layers": [conv(3)], "shortcut": "identity"}, "model.layers[1].shortcut='identity' is"),
        ({"layers": [conv(3)], "shortcut": "skip"}, "model.layers[1].shortcut='skip' is not"),
        ({"layers": []}, "model.layers[1].layers: the list of layers is empty"),
        ({"layers": [{"type": "flatten"}], "shortcut": "projection"}, "a projection maps images"),
    ],
)
def test_errors_name_the_nested_key(inner, message):
    specs = [conv(2), {"type": "residual", **inner}, {"type": "global_avgpool"}, DENSE]
    with pytest.raises(LayerSpecError) as error:
        build_network(
            specs,
            (4, 4, 1),
            rng=np.random.default_rng(0),
            name="model.layers",
        )
    assert message in str(error.value)


def test_an_mlp_with_a_residual_block_has_no_layer_sizes():
    specs = [{"type": "dense", "units": 6}, {"type": "residual", "layers": [DENSE | {"units": 6}]}]
    network = build_network([*specs, DENSE], (4,), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"layers\[1\] \(residual\) holds weights"):
        network.layer_sizes  # noqa: B018 (a property that refuses)
