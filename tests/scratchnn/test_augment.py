import numpy as np
import pytest

from scratchnn import RandomShiftRotate

from . import reference


def images(n: int = 6, side: int = 8, seed: int = 0, dtype=np.float64) -> np.ndarray:
    return np.random.default_rng(seed).random((n, side * side)).astype(dtype)


def test_shifts_are_exact_moves_with_zeros_coming_in():
    x = images()
    augment = RandomShiftRotate(max_shift=3, side=8)
    out = augment(x, np.random.default_rng(1))
    shifts = np.random.default_rng(1).integers(-3, 4, size=(6, 2))  # the same draws
    for image, moved, (dy, dx) in zip(x, out, shifts, strict=True):
        expected = reference.shift_image(image.reshape(8, 8), dy, dx)
        np.testing.assert_array_equal(moved.reshape(8, 8), expected)
    assert shifts.min() == -3 and shifts.max() == 3  # the range, both ends included
    assert out.shape == x.shape and out.dtype == x.dtype


def test_same_generator_same_output_and_the_buffer_is_reused():
    x = images(dtype=np.float32)
    augment = RandomShiftRotate(max_shift=2, max_degrees=15, side=8)
    first = augment(x, np.random.default_rng(3)).copy()
    again = augment(x, np.random.default_rng(3))
    np.testing.assert_array_equal(first, again)
    assert again.dtype == np.float32
    assert np.shares_memory(again, augment(x[:2], np.random.default_rng(4)))  # a short batch
    np.testing.assert_array_equal(x, images(dtype=np.float32))  # the input is left alone


class Fixed:
    """A stand-in generator: no shifts, and every ``uniform`` draw (angles, zooms) in turn from
    ``values``; it records what was asked of it."""

    def __init__(self, *values: float) -> None:
        self.values, self.calls = list(values), []

    def integers(self, low: int, high: int, size: tuple[int, int]) -> np.ndarray:
        self.calls.append(("integers", low, high))
        return np.zeros(size, np.int64)

    def uniform(self, low: float, high: float, size: int) -> np.ndarray:
        self.calls.append(("uniform", low, high))
        return np.full(size, self.values.pop(0))


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_a_quarter_turn_is_rot90(interpolation):
    x = images(n=2)
    augment = RandomShiftRotate(max_shift=0, max_degrees=90, side=8, interpolation=interpolation)
    out = augment(x, Fixed(90.0)).reshape(2, 8, 8)
    turned = np.rot90(x.reshape(2, 8, 8), k=1, axes=(1, 2))
    np.testing.assert_allclose(out, turned, atol=1e-12)


def test_a_small_rotation_keeps_the_centre_and_interpolates_between_pixels():
    x = np.zeros((1, 49))
    x[0, 24] = 1.0  # the centre pixel of a 7x7 image
    out = RandomShiftRotate(max_shift=0, max_degrees=10, side=7)(x, np.random.default_rng(0))
    assert out[0, 24] > 0.9 and out.sum() == pytest.approx(1.0, abs=0.05)
    ring = np.ones((1, 49))
    out = RandomShiftRotate(max_shift=0, max_degrees=10, side=7)(ring, np.random.default_rng(0))
    assert 0 < out.min() < 1 and out.max() == pytest.approx(1.0)  # the corners lose some


@pytest.mark.parametrize(("degrees", "zoom"), [(0.0, 1.5), (0.0, 0.7), (20.0, 1.25)])
def test_a_zoom_reads_each_pixel_where_the_map_sends_it(degrees, zoom):
    """Output pixel (r, q) is the input read (bilinearly, zeros outside) at
    R(angle)^T ((r, q) - centre) / zoom + centre: checked point by point against a loop."""
    x = images(n=2)
    augment = RandomShiftRotate(max_shift=0, max_degrees=degrees, side=8, max_scale=0.5)
    rng = Fixed(degrees, zoom) if degrees else Fixed(zoom)  # the angle drawn is `degrees`
    out = augment(x, rng).reshape(2, 8, 8)
    cos, sin, centre = np.cos(np.deg2rad(degrees)), np.sin(np.deg2rad(degrees)), 3.5
    for image, zoomed in zip(x.reshape(2, 8, 8), out, strict=True):
        for r in range(8):
            for q in range(8):
                up, right = (r - centre) / zoom, (q - centre) / zoom
                sy, sx = cos * up + sin * right + centre, -sin * up + cos * right + centre
                assert zoomed[r, q] == pytest.approx(reference.read_by_loop(image, sy, sx))


def test_zooms_are_drawn_last_and_only_when_asked_for():
    """Shifts, then angles, then zooms: a recipe without zooms draws what it drew before."""
    x = images(n=2)
    plain, zooming = Fixed(5.0), Fixed(5.0, 1.1)
    RandomShiftRotate(max_shift=2, max_degrees=10, side=8)(x, plain)
    RandomShiftRotate(max_shift=2, max_degrees=10, side=8, max_scale=0.2)(x, zooming)
    assert plain.calls == [("integers", -2, 3), ("uniform", -10.0, 10.0)]
    assert zooming.calls == [*plain.calls, ("uniform", 0.8, 1.2)]


def test_no_shift_no_rotation_is_the_identity_and_draws_nothing():
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    x = images()
    assert RandomShiftRotate(max_shift=0, side=8)(x, rng) is x
    assert rng.bit_generator.state == state


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_shift": -1}, "max_shift=-1"),
        ({"max_shift": 28}, "max_shift=28"),
        ({"max_degrees": -5}, "max_degrees=-5"),
        ({"interpolation": "cubic"}, "interpolation='cubic'"),
        ({"max_scale": -0.1}, "max_scale=-0.1"),
        ({"max_scale": 1.0}, "max_scale=1.0"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        RandomShiftRotate(**settings)
