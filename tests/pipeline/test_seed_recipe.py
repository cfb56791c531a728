"""``experiment=seed`` is the original script's training, checked against an independent
NumPy transcription of that script's maths on a small slice (the full 300-epoch run on the
real MNIST is tests/test_recipes.py)."""

import numpy as np

import scratchnn as sn
from pipeline.config import compose, validate
from pipeline.data.artifacts import N_CLASSES, load_split
from pipeline.network.factory import build_network
from pipeline.stages.prepare import prepare
from pipeline.stages.train import train
from tests.conftest import tiny_overrides

EPOCHS = 6


def original_training(x, y, weights, epochs: int, lr0: float):
    """The original script: 784-128-64-10 with ReLU and softmax, full-batch gradient descent
    on the mean cross-entropy, ``lr = lr0 / (1 + (lr0 / epochs) * epoch)``, float64."""
    W1, b1, W2, b2, W3, b3 = (w.copy() for w in weights)
    onehot = np.eye(N_CLASSES)[y]
    n = len(x)
    losses = []
    for epoch in range(epochs):
        lr = lr0 / (1 + (lr0 / epochs) * epoch)
        z1 = x @ W1 + b1
        a1 = np.maximum(z1, 0)
        z2 = a1 @ W2 + b2
        a2 = np.maximum(z2, 0)
        z3 = a2 @ W3 + b3
        e = np.exp(z3 - z3.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        losses.append(-np.mean(np.log(p[np.arange(n), y])))
        dz3 = (p - onehot) / n
        dz2 = (dz3 @ W3.T) * (z2 > 0)
        dz1 = (dz2 @ W2.T) * (z1 > 0)
        W3 -= lr * (a2.T @ dz3)
        b3 -= lr * dz3.sum(axis=0, keepdims=True)
        W2 -= lr * (a1.T @ dz2)
        b2 -= lr * dz2.sum(axis=0, keepdims=True)
        W1 -= lr * (x.T @ dz1)
        b1 -= lr * dz1.sum(axis=0, keepdims=True)
    return [W1, b1, W2, b2, W3, b3], losses


def layer_arrays(network: sn.Network, folder) -> list[np.ndarray]:
    """The network in the original's layout: layer{i}_weights (n_in, n_out), biases (1, n_out)."""
    sn.serialization.save_layer_files(network, folder)
    return [
        np.load(folder / f"layer{i}_{kind}.npy")
        for i in (1, 2, 3)
        for kind in ("weights", "biases")
    ]


def test_experiment_seed_trains_as_the_original_script(tmp_path, small_csvs):
    overrides = [
        *tiny_overrides(tmp_path, small_csvs, epochs=EPOCHS, hidden="[128, 64]"),
        "experiment=seed",
        f"train.epochs={EPOCHS}",
        "train.batch_size=null",
        "tracking.enabled=false",
    ]
    cfg = validate(compose(overrides))
    assert cfg.train.batch_size is None and cfg.dtype.value == "float64"
    prepare(cfg)
    x, y = load_split(cfg.paths.prepared, "train")
    start = layer_arrays(build_network(cfg, 784, N_CLASSES), tmp_path / "start")
    assert [w.shape for w in start] == [(784, 128), (1, 128), (128, 64), (1, 64), (64, 10), (1, 10)]
    assert all(not b.any() for b in start[1::2])  # zero biases
    assert abs(np.concatenate([w.ravel() for w in start[::2]]).std() - 0.10) < 0.005  # 0.10·N(0,1)

    network, history = train(cfg)
    expected, losses = original_training(x, y, start, EPOCHS, cfg.optimizer.lr)
    for ours, theirs in zip(layer_arrays(network, tmp_path / "end"), expected, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    assert not np.allclose(expected[0], start[0])  # it did train
    np.testing.assert_allclose([m.train_loss for m in history], losses, rtol=1e-9)
