"""Multi-head self-attention against a per-head loop and finite differences, and a whole small
vision transformer."""

import numpy as np
import pytest

from scratchnn import LayerSpecError, SelfAttention, build_network

from . import reference
from .helpers import (
    bound,
    check_gradients,
    check_network_gradients,
    check_skipping_dx_keeps_parameter_gradients,
    save_and_load,
)

TOKENS, WIDTH = 7, 8


def tokens(n: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, TOKENS, WIDTH))


def loop(layer: SelfAttention, x: np.ndarray) -> np.ndarray:
    qkv, out = layer.qkv, layer.project
    return reference.self_attention(x, qkv.W, qkv.b, out.W, out.b, layer.heads)


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_output_equals_the_per_head_loop(heads):
    layer = bound(SelfAttention(heads), (TOKENS, WIDTH), rng=np.random.default_rng(1))
    x = tokens()
    np.testing.assert_allclose(layer.forward(x), loop(layer, x), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("heads", [2, 4])
def test_gradients_match_finite_differences(heads):
    layer = bound(SelfAttention(heads), (TOKENS, WIDTH), rng=np.random.default_rng(2))
    layer.flat_params *= 0.5  # sharp but not saturated attention weights
    check_gradients(layer, tokens(seed=3))


def test_first_layer_skips_dx_but_fills_the_same_parameter_gradients():
    layer = bound(SelfAttention(2), (TOKENS, WIDTH), rng=np.random.default_rng(4))
    check_skipping_dx_keeps_parameter_gradients(layer, tokens(seed=5))


def test_a_smaller_batch_after_a_larger_one_gives_its_own_result():
    layer = bound(SelfAttention(4), (TOKENS, WIDTH), rng=np.random.default_rng(7))
    layer.forward(tokens(6, seed=8))
    small = tokens(2, seed=9)
    np.testing.assert_allclose(layer.forward(small), loop(layer, small), rtol=1e-11, atol=1e-12)


def test_float32_stays_float32():
    layer = bound(SelfAttention(2), (TOKENS, WIDTH), np.float32, np.random.default_rng(10))
    y = layer.forward(tokens().astype(np.float32))
    assert y.dtype == np.float32 and layer.backward(np.ones_like(y)).dtype == np.float32


def test_parameters_are_the_two_projections():
    layer = bound(SelfAttention(2), (TOKENS, WIDTH))
    assert layer.param_shapes() == {
        "qkv_weights": (8, 24),
        "qkv_biases": (1, 24),
        "out_weights": (8, 8),
        "out_biases": (1, 8),
    }
    assert np.shares_memory(layer.qkv.W, layer.flat_params)


def small_vit(seed: int = 0, dtype: type = np.float64, encoder: list | None = None):
    """patch_embed -> class_token -> position_embed -> encoder -> layernorm -> token_pool
    -> dense, on 4x4 images of 2 channels: 4 patches of 2x2, 5 tokens of 8 values."""
    return build_network(
        [
            {"type": "patch_embed", "patch": 2, "dim": 8},
            {"type": "class_token"},
            {"type": "position_embed"},
            *(encoder or [{"type": "transformer_block", "heads": 2, "mlp_units": 12}]),
            {"type": "layernorm"},
            {"type": "token_pool", "mode": "class"},
            {"type": "dense", "units": 3},
        ],
        input_shape=(4, 4, 2),
        rng=np.random.default_rng(seed),
        dtype=dtype,
    )


WRITTEN_OUT = [  # what a transformer_block of 2 heads and 12 MLP units is made of
    {"type": "residual", "layers": [{"type": "layernorm"}, {"type": "attention", "heads": 2}]},
    {
        "type": "residual",
        "layers": [
            {"type": "layernorm"},
            {"type": "dense", "units": 12},
            {"type": "gelu"},
            {"type": "dense", "units": 8},
        ],
    },
]


def test_transformer_block_is_the_two_residual_blocks_written_out():
    block, written_out = small_vit(), small_vit(encoder=WRITTEN_OUT)
    assert block.params.size == written_out.params.size
    np.testing.assert_array_equal(block.params, written_out.params)  # drawn in the same order
    np.testing.assert_array_equal(block.decay_mask, written_out.decay_mask)
    assert block.layers[3].specs() == [layer.spec() for layer in written_out.layers[3:5]]
    x = np.random.default_rng(1).standard_normal((4, 32))
    np.testing.assert_array_equal(block.forward(x), written_out.forward(x))


def test_only_weights_decay_not_biases_norms_tokens_or_positions():
    network = small_vit()
    decayed = {name for layer in network.layers for name in layer.decayed_names()}
    assert decayed == {
        "weights",
        "0.1.qkv_weights",
        "0.1.out_weights",
        "1.1.weights",
        "1.3.weights",
    }
    weights = sum(layer.W.size for layer in (network.layers[0].linear, network.layers[-1]))
    attention = 2 * 8 * 8 * 2  # qkv (8, 24) and out (8, 8)
    assert network.decay_mask.sum() == weights + attention + 8 * 12 + 12 * 8


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_whole_vit_gradient_matches_finite_differences(dropout):
    """Through every layer of a ViT; with dropout, the same masks at every pass."""
    block = {"type": "transformer_block", "heads": 2, "mlp_units": 12, "dropout": dropout}
    network = small_vit(encoder=[block])
    rng = np.random.default_rng(1)
    network.params += 0.1 * rng.standard_normal(network.params.size)
    x = rng.standard_normal((3, 32))  # flat rows, viewed as (4, 4, 2) images
    check_network_gradients(network, x, labels=np.array([2, 0, 1]), training=True)


def test_save_and_load_gives_bit_identical_logits(tmp_path):
    network = small_vit(seed=2, dtype=np.float32)
    x = np.random.default_rng(3).standard_normal((5, 32)).astype(np.float32)
    loaded = save_and_load(network, tmp_path)
    assert loaded.describe() == network.describe()
    np.testing.assert_array_equal(loaded.forward(x), network.forward(x))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "attention", "heads": 3}, r"heads=3 is not allowed: the token width 8 must"),
        ({"type": "attention", "heads": 0}, r"heads=0 is not allowed"),
        ({"type": "transformer_block", "heads": 3}, r"heads=3 is not allowed: the token width 8"),
        ({"type": "transformer_block", "mlp_units": 0}, r"mlp_units=0 is not allowed"),
        ({"type": "transformer_block", "dropout": 1.0}, r"dropout=1\.0 is not allowed"),
    ],
)
def test_errors_name_the_layer_and_the_key(spec, message):
    with pytest.raises(LayerSpecError, match=r"^layers\[1\]\." + message):
        build_network(
            [
                {"type": "patch_embed", "patch": 2, "dim": 8},
                spec,
                {"type": "token_pool"},
                {"type": "dense", "units": 2},
            ],
            (4, 4, 1),
            rng=np.random.default_rng(0),
        )
