"""The first checks: the initial loss's verdict against ln C, and memorising one small batch."""

import math

import numpy as np
import pytest

import scratchnn as sn
from scratchnn.first_checks import chance_loss, initial_loss_verdict, overfit_batch


@pytest.mark.parametrize(
    ("loss", "says"),
    [(2.31, "as expected"), (4.0, "above chance"), (0.7, "below chance before any training")],
)
def test_the_initial_loss_is_read_against_ln_c(loss, says):
    line = initial_loss_verdict(loss, 10)
    assert f"ln(10) = {math.log(10):.3f}" in line and says in line
    assert chance_loss(10) == pytest.approx(2.302585)


def small_batch(n: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((n, 20)), np.arange(n) % 4


def network() -> sn.Network:
    return sn.mlp([20, 32, 4], rng=np.random.default_rng(1), dtype=np.float64)


def test_an_untrained_network_starts_near_chance():
    x, y = small_batch()
    loss, _, _ = sn.evaluate(network(), x, y)
    assert "as expected" in initial_loss_verdict(loss, 4)


def test_a_network_memorises_a_small_batch_and_says_in_how_many_steps():
    x, y = small_batch()
    result = overfit_batch(network(), sn.Adam(), 0.01, x, y, np.random.default_rng(2))
    assert result.steps is not None and 1 < result.steps < 1000
    assert result.accuracy == 1.0 and result.loss < 0.05
    assert f"memorised 16 images in {result.steps} steps" in result.line()


def test_a_learning_rate_too_small_cannot_memorise_and_says_why():
    x, y = small_batch()
    result = overfit_batch(network(), sn.SGD(), 1e-6, x, y, np.random.default_rng(2), 50)
    assert result.steps is None
    assert "NOT memorised in 50 steps" in result.line() and "learning rate" in result.line()
