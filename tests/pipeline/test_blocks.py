"""The learner's view of the new families in activations.png: attention heads over the patch
grid, a residual block's branch, shortcut and sum."""

import numpy as np

import scratchnn as sn
from pipeline.figures.blocks import block_rows
from pipeline.figures.learned import activations_figure

RESIDUAL = [
    {"type": "conv2d", "filters": 2, "kernel": 3, "padding": 1},
    {"type": "residual", "layers": [{"type": "conv2d", "filters": 2, "kernel": 3, "padding": 1}]},
    {"type": "global_avgpool"},
    {"type": "dense", "units": 10},
]
TRANSFORMER = [
    {"type": "patch_embed", "patch": 7, "dim": 8},
    {"type": "class_token"},
    {"type": "transformer_block", "heads": 2, "mlp_units": 8},
    {"type": "token_pool", "mode": "class"},
    {"type": "dense", "units": 10},
]


def network(layers: list[dict]) -> sn.Network:
    return sn.build_network(layers, (28, 28, 1), rng=np.random.default_rng(0))


def test_a_residual_block_shows_its_branch_shortcut_and_sum():
    image = np.random.default_rng(1).random(784).astype(np.float32)
    net = network(RESIDUAL)
    (row,) = block_rows(net, image)
    label, panels = row
    assert label.startswith("1_residual") and [t for t, _ in panels] == [
        "branch f(x)",
        "shortcut",
        "sum y",
    ]
    first = net.layers[0].forward(image.reshape(1, 28, 28, 1))[0].mean(axis=-1)
    np.testing.assert_allclose(panels[1][1], first, atol=1e-5)  # the identity shortcut is x
    np.testing.assert_allclose(panels[0][1] + panels[1][1], panels[2][1], atol=1e-5)


def test_each_attention_head_is_a_map_over_the_patches():
    net = network(TRANSFORMER)
    rows = block_rows(net, np.random.default_rng(1).random(784).astype(np.float32))
    (label, heads) = rows[0]
    assert label.startswith("2_transformer_block") and len(heads) == 2
    for _, grid in heads:
        assert grid.shape == (4, 4)  # 16 patches of 7x7, what the class token takes from each
        assert 0 < grid.sum() <= 1 + 1e-5  # the rest of its weight is on itself


def test_activations_png_grows_by_the_block_rows():
    image = np.zeros(784, dtype=np.float32)
    plain = activations_figure(network(RESIDUAL[:1] + RESIDUAL[2:]), image, 0)
    with_block = activations_figure(network(RESIDUAL), image, 0)
    assert with_block.get_figheight() > plain.get_figheight() + 1.5  # its own layer, and a row
