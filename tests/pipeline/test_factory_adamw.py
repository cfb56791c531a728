"""The configuration's AdamW, warm-up and clipping keys reach scratchnn as configured."""

import numpy as np
import pytest

import scratchnn as sn
from pipeline.config import compose, validate
from pipeline.network.factory import build_network, build_optimizer, build_schedule


def test_adamw_decays_the_configured_networks_weights_only():
    cfg = validate(compose(["optimizer=adamw", "optimizer.weight_decay=0.3", "model=cnn"]))
    network = build_network(cfg, 784, 10)
    optimizer = build_optimizer(cfg, network)
    assert isinstance(optimizer, sn.AdamW) and optimizer.weight_decay == 0.3
    np.testing.assert_array_equal(optimizer.mask, network.decay_mask)
    weights = [layer.W for layer in network.layers if hasattr(layer, "W")]  # 2 conv, 2 dense
    assert len(weights) == 4 and optimizer.mask.sum() == sum(w.size for w in weights)


def test_warmup_rises_then_the_cosine_spans_the_epochs_left():
    cfg = validate(
        compose(
            ["optimizer.lr=0.3", "schedule=cosine", "schedule.warmup_epochs=2", "train.epochs=6"]
        )
    )
    schedule = build_schedule(cfg)
    # 0.3 * 1/3, 0.3 * 2/3, then a cosine over 4 epochs: 0.3 * (1 + cos(pi * e / 4)) / 2
    expected = [0.1, 0.2, 0.3, 0.3 * (1 + 0.5**0.5) / 2, 0.15, 0.3 * (1 - 0.5**0.5) / 2]
    assert [schedule(e) for e in range(6)] == pytest.approx(expected, rel=1e-12)


def test_no_warmup_and_no_clipping_are_the_defaults():
    cfg = validate(compose([]))
    assert cfg.schedule.warmup_epochs == 0 and cfg.train.clip_norm is None
    assert build_schedule(cfg)(0) == cfg.optimizer.lr
