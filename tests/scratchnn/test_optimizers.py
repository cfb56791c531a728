"""Optimiser steps against numbers worked out by hand from each update rule."""

import tracemalloc

import numpy as np
import pytest

from scratchnn import SGD, Adam, AdamW, Momentum


def params_and_grads():
    return np.array([1.0, -2.0]), np.array([0.5, 0.1])


def test_sgd_step():
    params, grads = params_and_grads()
    SGD().step(params, grads, lr=0.1)
    np.testing.assert_allclose(params, [1.0 - 0.05, -2.0 - 0.01])


def test_momentum_two_steps():
    params, grads = params_and_grads()
    optimizer = Momentum(momentum=0.9)
    optimizer.step(params, grads, lr=0.1)  # v = [-0.05, -0.01]
    np.testing.assert_allclose(params, [0.95, -2.01])
    optimizer.step(params, grads, lr=0.1)  # v = 0.9 v - 0.1 g = [-0.095, -0.019]
    np.testing.assert_allclose(params, [0.855, -2.029])


def test_adam_two_steps():
    params, grads = params_and_grads()
    optimizer = Adam(beta1=0.9, beta2=0.999, eps=1e-8)
    # step 1: m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps) ~ lr * sign(g)
    optimizer.step(params, grads, lr=0.1)
    np.testing.assert_allclose(params, [1.0 - 0.1 * 0.5 / (0.5 + 1e-8), -2.0 - 0.1 * 0.1 / 0.1])
    # step 2 with g2 = [0.2, -0.3]:
    #   m = 0.9 [0.05, 0.01] + 0.1 g2 = [0.065, -0.021]
    #   v = 0.999 [0.00025, 0.00001] + 0.001 g2^2 = [0.00028975, 0.00009999]
    #   bias corrections: 1 - 0.9^2 = 0.19, 1 - 0.999^2 = 0.001999
    step1 = params.copy()
    optimizer.step(params, np.array([0.2, -0.3]), lr=0.1)
    m_hat = np.array([0.065, -0.021]) / 0.19
    v_hat = np.array([0.00028975, 0.00009999]) / 0.001999
    np.testing.assert_allclose(params, step1 - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8), rtol=1e-12)
    assert optimizer.t == 2


@pytest.mark.parametrize("make", [SGD, Momentum, Adam, lambda: AdamW(0.5)])
def test_float32_parameters_are_updated_in_float32(make):
    """The step's arithmetic stays in float32 (the update in place could not change the
    array's dtype, so the values are what is checked): the float32 steps are close to the same
    steps in float64, but not what float64 arithmetic rounded to float32 after each step gives
    (which is what a step computing in float64 would write)."""
    rng = np.random.default_rng(0)
    start = rng.standard_normal(1000).astype(np.float32)
    grads = [rng.standard_normal(1000).astype(np.float32) for _ in range(3)]
    single, double, rounded = start.copy(), start.astype(np.float64), start.astype(np.float64)
    first, second, third = make(), make(), make()
    for g in grads:
        first.step(single, g, lr=0.01)
        second.step(double, g.astype(np.float64), lr=0.01)
        third.step(rounded, g.astype(np.float64), lr=0.01)
        rounded[...] = rounded.astype(np.float32)
    assert single.dtype == np.float32 and first_state_dtypes(first) <= {np.dtype(np.float32)}
    np.testing.assert_allclose(single, double, rtol=1e-5, atol=1e-6)
    assert not np.array_equal(single, rounded.astype(np.float32))


def first_state_dtypes(optimizer) -> set:
    """The dtypes of the arrays an optimizer keeps (velocity, moments)."""
    return {v.dtype for v in vars(optimizer).values() if isinstance(v, np.ndarray)}


@pytest.mark.parametrize("make", [Momentum, Adam, lambda: AdamW(0.1, np.arange(4) > 0)])
def test_state_round_trip_continues_identically(make):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(4) for _ in range(3)]
    a, b = np.zeros(4), np.zeros(4)
    first = make()
    for g in grads[:2]:
        first.step(a, g, lr=0.1)
    b[...] = a
    second = make()
    second.load_state(first.state())
    first.step(a, grads[2], lr=0.1)
    second.step(b, grads[2], lr=0.1)
    np.testing.assert_array_equal(a, b)


def textbook_adam(grads: list[np.ndarray], params: np.ndarray, lr: float) -> np.ndarray:
    """Adam exactly as Kingma & Ba write it, one line per formula: the independent reference."""
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    m, v = np.zeros_like(params), np.zeros_like(params)
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        params = params - lr * m_hat / (np.sqrt(v_hat) + eps)
    return params


def test_adam_rearranged_update_is_the_textbook_formula():
    rng = np.random.default_rng(3)
    grads = [rng.standard_normal(50) * 10.0 ** rng.integers(-6, 1) for _ in range(40)]
    params = rng.standard_normal(50)
    expected = textbook_adam(grads, params.copy(), lr=0.01)
    optimizer = Adam(flush_every=0)
    for g in grads:
        optimizer.step(params, g, lr=0.01)
    np.testing.assert_allclose(params, expected, rtol=1e-12, atol=1e-15)


def test_adam_flushes_subnormal_moments_and_weights_every_flush_every_steps():
    tiny = np.finfo(np.float32).tiny
    params = np.array([1.0, tiny / 8, 0.5], dtype=np.float32)  # the second one subnormal
    grads = np.array([0.1, 0.0, tiny / 4], dtype=np.float32)  # a subnormal gradient too
    kept = params.copy()
    flushing, plain = Adam(flush_every=2), Adam(flush_every=0)
    for step in (1, 2):
        flushing.step(params, grads, lr=1e-3)
        plain.step(kept, grads, lr=1e-3)
        if step == 1:  # no flush yet: the two agree bit for bit
            np.testing.assert_array_equal(params, kept)
    assert params[1] == 0 and kept[1] != 0
    assert flushing.m_sum[2] == 0 and plain.m_sum[2] != 0
    assert params[0] == kept[0] and params[2] == kept[2]  # normal numbers are untouched


def test_adam_resumes_from_a_state_that_holds_the_averages_m_and_v():
    params, grads = params_and_grads()
    reference = Adam()
    reference.step(params, grads, lr=0.1)
    resumed = Adam()
    resumed.load_state(
        {
            "t": np.array(1),
            "m": (1 - 0.9) * reference.m_sum,  # the textbook m and v after one step
            "v": (1 - 0.999) * reference.v_sum,
        }
    )
    np.testing.assert_allclose(resumed.m_sum, reference.m_sum, rtol=1e-15)
    np.testing.assert_allclose(resumed.v_sum, reference.v_sum, rtol=1e-15)


@pytest.mark.parametrize(
    "make",
    [SGD, Momentum, lambda: Adam(flush_every=2), lambda: AdamW(0.1, np.arange(100_000) % 3 > 0)],
    ids=["SGD", "Momentum", "Adam", "AdamW"],
)
def test_a_step_makes_no_temporaries(make):
    """docs/library.md: "`SGD`, `Momentum`, `Adam`, each updating the flat buffer with no
    temporaries". After the first step (which allocates the work arrays), steps allocate nothing the
    size of the parameters; NumPy reports its array buffers to tracemalloc. Adam flushes subnormals
    every 2 steps here, so the flush is among the steps measured."""
    rng = np.random.default_rng(0)
    params = rng.standard_normal(100_000).astype(np.float32)
    grads = rng.standard_normal(100_000).astype(np.float32)
    optimizer = make()
    optimizer.step(params, grads, lr=0.01)
    tracemalloc.start()
    try:
        for _ in range(4):
            optimizer.step(params, grads, lr=0.01)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < params.nbytes / 10, f"a step allocated {peak} bytes"


def test_adamw_two_steps_decay_only_the_masked_entries():
    params, grads = params_and_grads()  # [1, -2], [0.5, 0.1]
    optimizer = AdamW(weight_decay=0.5, mask=np.array([True, False]))
    # step 1: params[0] *= 1 - 0.1 * 0.5 = 0.95, then Adam's first step, lr * sign(g)
    optimizer.step(params, grads, lr=0.1)
    expected = [0.95 - 0.1 * 0.5 / (0.5 + 1e-8), -2.0 - 0.1 * 0.1 / (0.1 + 1e-8)]
    np.testing.assert_allclose(params, expected, rtol=1e-12)
    # step 2 with g2 = [0.2, -0.3], lr = 0.2: the shrink is 1 - 0.2 * 0.5 = 0.9; the Adam step
    # is the one worked out in test_adam_two_steps at lr 0.2 (the moments never see the decay)
    step1 = params.copy()
    optimizer.step(params, np.array([0.2, -0.3]), lr=0.2)
    m_hat = np.array([0.065, -0.021]) / 0.19
    v_hat = np.array([0.00028975, 0.00009999]) / 0.001999
    adam = 0.2 * m_hat / (np.sqrt(v_hat) + 1e-8)
    np.testing.assert_allclose(params, step1 * [0.9, 1.0] - adam, rtol=1e-12)


def test_adamw_with_zero_gradients_only_shrinks_the_decayed_weights():
    params = np.array([2.0, -4.0, 8.0])
    optimizer = AdamW(weight_decay=0.01, mask=np.array([True, True, False]))
    for _ in range(3):
        optimizer.step(params, np.zeros(3), lr=0.5)  # Adam's own step is 0 / (0 + eps) = 0
    np.testing.assert_allclose(params, [2.0 * 0.995**3, -4.0 * 0.995**3, 8.0], rtol=1e-15)


def test_adamw_without_decay_is_adam_bit_for_bit():
    rng = np.random.default_rng(5)
    grads = [rng.standard_normal(20).astype(np.float32) for _ in range(5)]
    a = rng.standard_normal(20).astype(np.float32)
    b = a.copy()
    adam, adamw = Adam(), AdamW(weight_decay=0.0, mask=np.ones(20, bool))
    for g in grads:
        adam.step(a, g, lr=0.01)
        adamw.step(b, g, lr=0.01)
    np.testing.assert_array_equal(a, b)


def test_adamw_refuses_a_mask_that_does_not_fit():
    with pytest.raises(ValueError, match=r"the decay mask \(3,\) does not fit params \(2,\)"):
        AdamW(mask=np.ones(3, bool)).step(*params_and_grads(), lr=0.1)
    with pytest.raises(ValueError, match="weight_decay=-1"):
        AdamW(weight_decay=-1)
