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


def small_vit(seed: int = 0, dtype: type = np.float64):
    """patch_embed -> class_token -> position_embed -> layernorm -> attention -> token_pool
    -> dense, on 4x4 images of 2 channels: 4 patches of 2x2, 5 tokens of 8 values."""
    return build_network(
        [
            {"type": "patch_embed", "patch": 2, "dim": 8},
            {"type": "class_token"},
            {"type": "position_embed"},
            {"type": "layernorm"},
            {"type": "attention", "heads": 2},
            {"type": "dense", "units": 8},
            {"type": "gelu"},
            {"type": "layernorm"},
            {"type": "token_pool", "mode": "class"},
            {"type": "dense", "units": 3},
        ],
        input_shape=(4, 4, 2),
        rng=np.random.default_rng(seed),
        dtype=dtype,
    )


def test_whole_vit_gradient_matches_finite_differences():
    network = small_vit()
    rng = np.random.default_rng(1)
    network.params += 0.1 * rng.standard_normal(network.params.size)
    x = rng.standard_normal((3, 32))  # flat rows, viewed as (4, 4, 2) images
    check_network_gradients(network, x, labels=np.array([2, 0, 1]))


def test_save_and_load_gives_bit_identical_logits(tmp_path):
    network = small_vit(seed=2, dtype=np.float32)
    x = np.random.default_rng(3).standard_normal((5, 32)).astype(np.float32)
    loaded = save_and_load(network, tmp_path)
    assert loaded.describe() == network.describe()
    np.testing.assert_array_equal(loaded.forward(x), network.forward(x))


def test_heads_must_divide_the_token_width():
    with pytest.raises(
        LayerSpecError,
        match=r"^layers\[1\]\.heads=3 is not allowed: the token width 8 must be divisible by it",
    ):
        build_network(
            [
                {"type": "patch_embed", "patch": 2, "dim": 8},
                {"type": "attention", "heads": 3},
                {"type": "token_pool"},
                {"type": "dense", "units": 2},
            ],
            (4, 4, 1),
            rng=np.random.default_rng(0),
        )
