"""The layers around a transformer: patches, positions, the class token, token pooling."""

import numpy as np
import pytest

from scratchnn import (
    ClassToken,
    LayerSpecError,
    PatchEmbed,
    PositionEmbed,
    TokenPool,
    build_network,
)

from . import reference
from .helpers import bound, check_gradients


def tokens(n: int = 3, t: int = 6, d: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, t, d))


def test_patch_embed_maps_each_square_read_row_by_row():
    layer = bound(PatchEmbed(patch=2, dim=5), (4, 6, 3), rng=np.random.default_rng(1))
    images = np.random.default_rng(2).standard_normal((2, 4, 6, 3))
    y = layer.forward(images)
    assert y.shape == (2, 6, 5)  # (4/2) * (6/2) tokens
    np.testing.assert_allclose(y, reference.patches(images, 2) @ layer.linear.W + layer.linear.b)


def test_patch_embed_gradients_match_finite_differences():
    layer = bound(PatchEmbed(patch=2, dim=3), (4, 6, 2), rng=np.random.default_rng(3))
    check_gradients(layer, np.random.default_rng(4).standard_normal((2, 4, 6, 2)))


def test_position_embed_adds_a_table_and_its_gradients_match():
    layer = bound(PositionEmbed(), (6, 4), rng=np.random.default_rng(5))
    x = tokens(seed=6)
    np.testing.assert_allclose(layer.forward(x), x + layer.params["embedding"])
    check_gradients(layer, x)


def test_class_token_goes_first_and_its_gradients_match():
    layer = bound(ClassToken(), (6, 4), rng=np.random.default_rng(7))
    x = tokens(seed=8)
    y = layer.forward(x)
    assert y.shape == (3, 7, 4)
    np.testing.assert_array_equal(y[:, 0], np.broadcast_to(layer.params["token"], (3, 4)))
    np.testing.assert_array_equal(y[:, 1:], x)
    check_gradients(layer, x)


@pytest.mark.parametrize("mode", ["class", "mean"])
def test_token_pool_gradients_match_finite_differences(mode):
    layer = bound(TokenPool(mode), (6, 4))
    x = tokens(seed=9)
    expected = x[:, 0] if mode == "class" else x.mean(axis=1)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12)
    check_gradients(layer, x)


def test_token_pool_gives_a_full_gradient_again_after_dx_was_written_over():
    layer = bound(TokenPool("class"), (6, 4))
    x, dy = tokens(seed=10), np.ones((3, 4))
    layer.forward(x)
    layer.backward(dy)[...] = 7.0  # the next layer's backward may overwrite its dy
    dx = layer.backward(dy)
    assert (dx[:, 1:] == 0).all() and (dx[:, 0] == 1).all()


def test_initial_tokens_and_positions_are_small():
    network = build_network(
        [
            {"type": "patch_embed", "patch": 7, "dim": 8},
            {"type": "class_token"},
            {"type": "position_embed"},
            {"type": "token_pool"},
            {"type": "dense", "units": 10},
        ],
        (28, 28, 1),
        rng=np.random.default_rng(0),
    )
    assert network.layers[1].output_shape == (17, 8)
    for layer, name in ((network.layers[1], "token"), (network.layers[2], "embedding")):
        assert 0.005 < np.std(layer.params[name]) < 0.05


@pytest.mark.parametrize(
    ("spec", "input_shape", "message"),
    [
        (
            {"type": "patch_embed", "patch": 5, "dim": 8},
            (28, 28, 1),
            r"^layers\[0\]\.patch=5 is not allowed: it must divide the image's size 28x28",
        ),
        ({"type": "patch_embed", "patch": 4, "dim": 0}, (28, 28, 1), r"^layers\[0\]\.dim=0"),
        ({"type": "patch_embed", "patch": 4, "dim": 8}, (28, 28), r"needs images \(h, w, ch"),
        ({"type": "position_embed"}, (784,), r"^layers\[0\]: position_embed needs tokens"),
        ({"type": "class_token"}, (28, 28, 1), r"^layers\[0\]: class_token needs tokens"),
        ({"type": "token_pool", "mode": "max"}, (6, 4), r"^layers\[0\]\.mode='max' is not"),
    ],
)
def test_errors_name_the_layer_and_the_key(spec, input_shape, message):
    with pytest.raises(LayerSpecError, match=message):
        build_network(
            [spec, {"type": "flatten"}, {"type": "dense", "units": 2}],
            input_shape,
            rng=np.random.default_rng(0),
        )
