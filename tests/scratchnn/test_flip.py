"""Random horizontal flips: each image either itself or its mirror, about half mirrored, drawn
from the generator alone; and chained after shifts without changing the shifts' draws."""

import numpy as np

import scratchnn as sn


def test_each_image_is_itself_or_its_mirror_and_about_half_are_mirrored() -> None:
    x = np.random.default_rng(0).random((400, 5 * 5)).astype(np.float32)  # (batch, 25)
    out = sn.RandomFlip(side=5)(x, np.random.default_rng(1))
    images, seen = x.reshape(-1, 5, 5), out.reshape(-1, 5, 5)
    mirrored = np.all(seen == images[:, :, ::-1], axis=(1, 2))  # a loop would say the same
    kept = np.all(seen == images, axis=(1, 2))
    assert np.all(mirrored ^ kept)
    assert 160 < mirrored.sum() < 240 and out.dtype == np.float32


def test_the_same_generator_flips_the_same_images() -> None:
    x = np.random.default_rng(0).random((64, 28 * 28))
    first = sn.RandomFlip()(x, np.random.default_rng(7)).copy()
    again = sn.RandomFlip()(x, np.random.default_rng(7))
    np.testing.assert_array_equal(first, again)


def test_a_mirrored_image_by_hand() -> None:
    x = np.arange(9, dtype=np.float64).reshape(1, 9)  # rows 0 1 2 / 3 4 5 / 6 7 8
    flip = sn.RandomFlip(side=3)
    outs = {tuple(flip(x, np.random.default_rng(seed))[0]) for seed in range(20)}
    assert outs == {tuple(range(9)), (2, 1, 0, 5, 4, 3, 8, 7, 6)}


def test_chained_after_shifts_the_shifts_are_drawn_as_without_flips() -> None:
    x = np.random.default_rng(0).random((32, 28 * 28))
    shifted = sn.RandomShiftRotate(max_shift=2)(x, np.random.default_rng(3)).copy()
    both = sn.chain(sn.RandomShiftRotate(max_shift=2), sn.RandomFlip())
    out = both(x, np.random.default_rng(3)).reshape(-1, 28, 28)
    shifted = shifted.reshape(-1, 28, 28)
    assert all(
        np.array_equal(o, s) or np.array_equal(o, s[:, ::-1])
        for o, s in zip(out, shifted, strict=True)
    )


def test_elastic_distortions_chained_between_keep_the_earlier_draws() -> None:
    """build_augment's order: shifts, elastic distortions, flips; each later step leaves the
    random draws of the earlier ones as they were."""
    x = np.random.default_rng(0).random((8, 28 * 28))
    shifted = sn.RandomShiftRotate(max_shift=2)(x, np.random.default_rng(5)).copy()
    rng = np.random.default_rng(5)
    first = sn.RandomShiftRotate(max_shift=2)(x, rng).copy()
    np.testing.assert_array_equal(first, shifted)
    distorted = sn.ElasticDistortion(34, 4)(first, rng)
    steps = [sn.RandomShiftRotate(max_shift=2), sn.ElasticDistortion(34, 4)]
    np.testing.assert_array_equal(sn.chain(*steps)(x, np.random.default_rng(5)), distorted)
