"""The train stage with the options and layers of the residual recipe: AdamW, warm-up, gradient
clipping and a nested architecture, on random prepared data (seconds)."""

from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

import scratchnn as sn
from pipeline.config import Config, compose, validate
from pipeline.network import checkpoint
from pipeline.stages.train import train, write_outputs
from tests.conftest import random_prepared

CONV = {"type": "conv2d", "kernel": 3, "padding": 1}
TINY_RESNET = [
    {**CONV, "filters": 4, "stride": 2},  # -> 14x14x4
    {"type": "residual", "layers": [{"type": "batchnorm"}, {"type": "relu"}]},
    {"type": "residual", "layers": [{**CONV, "filters": 6, "stride": 2}]},  # -> 7x7x6
    {"type": "global_avgpool"},  # -> 6
    {"type": "dense", "units": 10},
]


def config(folder: Path, *overrides: str, layers: list | None = None) -> Config:
    raw = OmegaConf.to_container(
        compose(
            [
                "model=cnn",
                f"paths.prepared={folder / 'prepared'}",
                f"paths.model={folder / 'model.npz'}",
                f"paths.reports={folder / 'reports'}",
                "tracking.enabled=false",
                "train.epochs=2",
                "train.batch_size=32",
                *overrides,
            ]
        )
    )
    if layers is not None:
        raw["model"]["layers"] = layers
    return validate(raw)


def test_clipping_reaches_training_and_a_norm_never_reached_changes_nothing(tmp_path):
    random_prepared(tmp_path / "prepared", {"train": 96, "val": 20})
    plain, _ = train(config(tmp_path, "optimizer=adamw"))
    unreached, _ = train(config(tmp_path, "optimizer=adamw", "train.clip_norm=1e9"))
    clipped, _ = train(config(tmp_path, "optimizer=adamw", "train.clip_norm=1e-3"))
    np.testing.assert_array_equal(unreached.params, plain.params)
    assert not np.array_equal(clipped.params, plain.params)


def test_train_weight_decay_still_applies_beside_adamws_own(tmp_path):
    random_prepared(tmp_path / "prepared", {"train": 96, "val": 20})
    without, _ = train(config(tmp_path, "optimizer=adamw", "train.weight_decay=0"))
    beside, _ = train(config(tmp_path, "optimizer=adamw", "train.weight_decay=0.5"))
    assert not np.array_equal(beside.params, without.params)


def test_a_nested_network_trains_with_warmup_and_its_file_rebuilds_it(tmp_path):
    random_prepared(tmp_path / "prepared", {"train": 96, "val": 20})
    overrides = ("optimizer=adamw", "schedule.warmup_epochs=1", "train.weight_decay=0")
    cfg = config(tmp_path, *overrides, layers=TINY_RESNET)
    network, history = train(cfg)
    assert [m.lr for m in history] == [cfg.optimizer.lr / 2, cfg.optimizer.lr]
    assert network.layers[2].projection is not None  # 14x14x4 -> 7x7x6: projected
    write_outputs(cfg, network, history)
    loaded = sn.load_weights(cfg.paths.model)
    x = np.random.default_rng(1).random((5, 784), dtype=np.float32)
    np.testing.assert_array_equal(loaded.forward(x), network.forward(x))
    again, _ = train(cfg)
    np.testing.assert_array_equal(again.params, network.params)  # the same seed, bit for bit


def test_a_nested_adamw_run_interrupted_after_an_epoch_resumes_bit_for_bit(tmp_path):
    random_prepared(tmp_path / "prepared", {"train": 96, "val": 20})
    cfg = config(tmp_path, "optimizer=adamw", "schedule.warmup_epochs=1", layers=TINY_RESNET)
    whole, _ = train(cfg)
    saved = tmp_path / "model.checkpoint.npz"

    def interrupt(metrics: sn.EpochMetrics) -> None:
        raise KeyboardInterrupt  # after epoch 1's checkpoint is written

    with pytest.raises(KeyboardInterrupt):
        train(cfg, on_epoch_end=interrupt, checkpoint_file=saved)
    state = checkpoint.load(saved, cfg)
    assert state is not None and state.epoch == 1 and "m_sum" in state.optimizer
    resumed, history = train(cfg, resume=state)
    np.testing.assert_array_equal(resumed.params, whole.params)
    np.testing.assert_array_equal(resumed.state, whole.state)  # batch norm's, nested ones too
    assert len(history) == 2
