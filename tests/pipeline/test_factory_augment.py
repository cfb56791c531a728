"""The configuration's data.augment keys reach scratchnn's augmentations, in their order."""

import numpy as np

import scratchnn as sn
from pipeline.config import compose, validate
from pipeline.network.factory import build_augment


def batch() -> np.ndarray:
    return np.random.default_rng(0).random((16, 784)).astype(np.float32)


def test_nothing_configured_moves_nothing():
    assert build_augment(validate(compose([]))) is None


def test_elastic_distortions_follow_the_shifts_and_rotations_with_the_same_generator():
    moves = ["data.augment.shift=2", "data.augment.rotate=10"]
    plain = build_augment(validate(compose(moves)))
    bent = build_augment(
        validate(compose([*moves, "data.augment.elastic=34", "data.augment.elastic_sigma=4"]))
    )
    rng = np.random.default_rng(1)
    expected = sn.ElasticDistortion(34, 4)(plain(batch(), rng).copy(), rng)
    np.testing.assert_array_equal(bent(batch(), np.random.default_rng(1)), expected)


def test_elastic_distortions_alone():
    bent = build_augment(
        validate(compose(["data.augment.elastic=20", "data.augment.elastic_sigma=3"]))
    )
    expected = sn.ElasticDistortion(20, 3)(batch(), np.random.default_rng(2))
    np.testing.assert_array_equal(bent(batch(), np.random.default_rng(2)), expected)


def test_zooms_reach_the_shifts_and_rotations():
    moves = ["data.augment.shift=1", "data.augment.rotate=5", "data.augment.scale=0.1"]
    zooming = build_augment(validate(compose(moves)))
    expected = sn.RandomShiftRotate(1, 5, max_scale=0.1)(batch(), np.random.default_rng(3))
    np.testing.assert_array_equal(zooming(batch(), np.random.default_rng(3)), expected)
    alone = build_augment(validate(compose(["data.augment.scale=0.15"])))
    expected = sn.RandomShiftRotate(0, 0, max_scale=0.15)(batch(), np.random.default_rng(4))
    np.testing.assert_array_equal(alone(batch(), np.random.default_rng(4)), expected)
