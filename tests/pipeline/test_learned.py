"""The learner's view: the first layer's weights as tiles, and one image through every layer."""

import numpy as np

import scratchnn as sn
from pipeline.figures import learned, plots

CNN = [
    {"type": "conv2d", "filters": 4, "kernel": 3, "padding": 1},
    {"type": "relu"},
    {"type": "maxpool2d", "pool": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 10},
]


def test_dense_first_layer_tiles_are_each_units_input_weights():
    network = sn.mlp([784, 12, 10], rng=np.random.default_rng(0))
    kind, tiles = learned.first_layer_weights(network)
    assert "dense" in kind and tiles.shape == (12, 28, 28)
    weights = network.layers[0].W
    np.testing.assert_array_equal(tiles[5], weights[:, 5].reshape(28, 28))  # unit 5's pixels


def test_conv_first_layer_tiles_are_its_kernels():
    network = sn.build_network(CNN, (28, 28, 1), rng=np.random.default_rng(0))
    kind, tiles = learned.first_layer_weights(network)
    assert "conv2d" in kind and tiles.shape == (4, 3, 3)
    np.testing.assert_array_equal(tiles[2], network.layers[0].W[:, :, 0, 2])


def test_a_first_layer_inside_a_residual_block_is_found_there():
    specs = [{"type": "residual", "layers": [{**CNN[0], "filters": 1}, {"type": "relu"}]}]
    network = sn.build_network([*specs, *CNN], (28, 28, 1), rng=np.random.default_rng(0))
    kind, tiles = learned.first_layer_weights(network)
    assert kind == "layers[0].layers[0]: conv2d kernels 3x3" and tiles.shape == (1, 3, 3)
    np.testing.assert_array_equal(tiles[0], network.layers[0].layers[0].W[:, :, 0, 0])


def test_layer_outputs_end_in_the_networks_own_logits():
    network = sn.build_network(CNN, (28, 28, 1), rng=np.random.default_rng(1))
    image = np.random.default_rng(2).random(784).astype(np.float32)
    outputs = learned.layer_outputs(network, image)
    assert [o.shape for o in outputs] == [(28, 28, 4), (28, 28, 4), (14, 14, 4), (784,), (10,)]
    assert (outputs[1] >= 0).all() and (outputs[0] < 0).any()  # the relu's input, kept intact
    np.testing.assert_allclose(outputs[-1], network.forward(image[None])[0], rtol=1e-6)


def test_both_figures_draw_for_an_mlp_and_a_cnn():
    image = np.random.default_rng(3).random(784).astype(np.float32)
    for network in (
        sn.mlp([784, 16, 10], rng=np.random.default_rng(0), batch_norm=True, dropout=0.2),
        sn.build_network(CNN, (28, 28, 1), rng=np.random.default_rng(0)),
    ):
        _, tiles = learned.first_layer_weights(network)
        (ax,) = learned.first_layer_figure(network).axes
        grid = ax.images[0].get_array()
        side = tiles.shape[1:]
        gap = (max(1, round(side[0] * 0.22)), max(1, round(side[1] * 0.1)))
        for n, tile in enumerate(tiles):  # one tile per unit or filter, each on its own scale
            top, left = plots.tile_origin(n, 8, side, gap)
            drawn = grid[top : top + side[0], left : left + side[1]]
            np.testing.assert_allclose(drawn, tile / np.abs(tile).max(), rtol=1e-6)
        assert [t.get_text() for t in ax.texts] == [str(n) for n in range(len(tiles))]
        figure = learned.activations_figure(network, image, label=3)
        assert "true digit 3" in figure.texts[0].get_text()


SEQUENCE_NETWORKS = {
    "lstm": (
        [
            {"type": "lstm", "units": 6, "return_sequences": True},
            {"type": "gru", "units": 5},
            {"type": "dense", "units": 10},
        ],
        (28, 28),
    ),
    "vit": (
        [
            {"type": "patch_embed", "patch": 7, "dim": 8},
            {"type": "class_token"},
            {"type": "position_embed"},
            {"type": "transformer_block", "heads": 2},
            {"type": "token_pool"},
            {"type": "dense", "units": 10},
        ],
        (28, 28, 1),
    ),
}


def test_patch_embed_tiles_are_each_token_values_map_of_a_patch():
    network = sn.build_network(*SEQUENCE_NETWORKS["vit"], rng=np.random.default_rng(0))
    kind, tiles = learned.first_layer_weights(network)
    assert "patch_embed" in kind and tiles.shape == (8, 7, 7)
    np.testing.assert_array_equal(tiles[3], network.layers[0].linear.W[:, 3].reshape(7, 7))


def test_recurrent_tiles_are_its_input_weights_one_per_gate():
    network = sn.build_network(*SEQUENCE_NETWORKS["lstm"], rng=np.random.default_rng(0))
    kind, tiles = learned.first_layer_weights(network)
    assert "lstm" in kind and tiles.shape == (4, 28, 6)  # i, f, o, g: row pixels x units
    np.testing.assert_array_equal(tiles[1], network.layers[0].W[:, 6:12])  # the forget gate


def test_both_figures_draw_for_an_lstm_and_a_vit():
    image = np.random.default_rng(4).random(784).astype(np.float32)
    for specs, shape in SEQUENCE_NETWORKS.values():
        network = sn.build_network(specs, shape, rng=np.random.default_rng(0))
        (ax,) = learned.first_layer_figure(network).axes
        assert ax.images
        figure = learned.activations_figure(network, image, label=None)
        sequences = [a for a in figure.axes if a.images and a.images[0].get_array().ndim == 2]
        assert len(sequences) >= 2  # the input image and at least one sequence of steps or tokens
