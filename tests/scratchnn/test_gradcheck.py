"""The gradient check on the nested and sequence layers: it passes where the layers are right,
and a broken layer inside a residual block is named by its path."""

import numpy as np
import pytest

import scratchnn as sn
from scratchnn.gradcheck import GradientCheck, failing_layers

RESIDUAL = [
    {"type": "conv2d", "filters": 2, "kernel": 3, "padding": 1},
    {"type": "residual", "layers": [
        {"type": "conv2d", "filters": 3, "kernel": 3, "padding": 1, "stride": 2},
        {"type": "batchnorm"},
        {"type": "relu"},
    ]},
    {"type": "global_avgpool"},
    {"type": "dense", "units": 3},
]  # fmt: skip
SEQUENCES = [
    {"type": "patch_embed", "patch": 3, "dim": 8},
    {"type": "class_token"},
    {"type": "position_embed"},
    {"type": "transformer_block", "heads": 2, "mlp_units": 8},
    {"type": "token_pool", "mode": "class"},
    {"type": "dense", "units": 3},
]
RECURRENT = [{"type": "lstm", "units": 4, "return_sequences": True}, {"type": "gru", "units": 3},
             {"type": "dense", "units": 3}]  # fmt: skip


def check(layers: list[dict], input_shape: tuple[int, ...]) -> list:
    network = sn.build_network(layers, input_shape, rng=np.random.default_rng(0), dtype=np.float64)
    rng = np.random.default_rng(1)
    x = rng.random((3, int(np.prod(input_shape))))
    return GradientCheck(network, x, np.array([0, 1, 2]), samples=4).run()


@pytest.mark.parametrize(
    ("layers", "input_shape"),
    [(RESIDUAL, (6, 6, 1)), (SEQUENCES, (6, 6, 1)), (RECURRENT, (5, 4))],
    ids=["residual", "transformer", "recurrent"],
)
def test_nested_and_sequence_layers_pass(layers, input_shape):
    checks = check(layers, input_shape)
    assert failing_layers(checks) == []
    names = {c.layer for c in checks}
    assert len(names) >= len(layers)  # nested layers are checked by themselves too


def test_a_broken_layer_inside_a_block_is_named_by_its_path(monkeypatch):
    batch_norm_backward = sn.BatchNorm.backward

    def broken(self, dy, need_dx=True):
        dx = batch_norm_backward(self, dy, need_dx)
        return None if dx is None else dx * 1.01

    monkeypatch.setattr(sn.BatchNorm, "backward", broken)
    failing = failing_layers(check(RESIDUAL, (6, 6, 1)))
    assert "1_residual.1_batchnorm" in failing
    assert "1_residual.0_conv2d" not in failing  # the layer below is right by itself
