import numpy as np

from scratchnn import SoftmaxCrossEntropy

from .gradcheck import assert_close, numerical_gradient


def test_loss_value_is_mean_negative_log_probability_of_the_true_class():
    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    labels = np.array([2, 0])
    p0 = np.exp(3.0) / (np.exp(1.0) + np.exp(2.0) + np.exp(3.0))
    expected = -(np.log(p0) + np.log(1 / 3)) / 2
    assert np.isclose(SoftmaxCrossEntropy(3, np.float64).forward(z, labels), expected)


def test_gradient_is_p_minus_onehot_over_batch_and_matches_finite_differences():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((5, 4))
    labels = np.array([0, 3, 1, 1, 2])
    loss_fn = SoftmaxCrossEntropy(4, np.float64)

    def loss() -> float:
        return SoftmaxCrossEntropy(4, np.float64).forward(z, labels)

    loss_fn.forward(z, labels)
    p = loss_fn.p.copy()
    dz = loss_fn.backward().copy()
    onehot = np.eye(4)[labels]
    np.testing.assert_allclose(dz, (p - onehot) / 5)
    assert_close(dz, numerical_gradient(loss, z))


def test_huge_logits_do_not_overflow_and_loss_is_clipped():
    z = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]])
    loss_fn = SoftmaxCrossEntropy(2, np.float64)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = loss_fn.forward(z, np.array([1, 1]))
    # row 0 is certain and wrong: clipped to -log(1e-7); row 1 certain and right: ~ -log(1 - 1e-7)
    assert np.isclose(loss, (-np.log(1e-7) - np.log(1 - 1e-7)) / 2)
    assert np.all(np.isfinite(loss_fn.p))


def test_float32_stays_float32():
    z = np.ones((3, 10), dtype=np.float32)
    loss_fn = SoftmaxCrossEntropy(10, np.float32)
    loss_fn.forward(z, np.zeros(3, dtype=np.int64))
    assert loss_fn.p.dtype == np.float32
    assert loss_fn.backward().dtype == np.float32
