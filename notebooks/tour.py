# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A tour of NeuralScratch
#
# This notebook goes through the project cell by cell, as CS231n's assignments do:
#
# 1. build a network with `scratchnn` (the library: NumPy only),
# 2. train it for a few epochs on a slice of the prepared MNIST,
# 3. check one layer's gradient against finite differences,
# 4. look at what the first layer learned and at one image going through the network,
# 5. open the MLflow store and compare two runs of the pipeline.
#
# It reads what `make run` made: `data/prepared/` (the splits) and `mlflow.db` (the runs). For a
# second run to compare, try `dvc exp run -S optimizer.lr=0.005` first. `make notebook` opens it
# in JupyterLab; `notebooks/tour.py` is the same notebook as a script (jupytext keeps the two in
# step), which is what a diff shows.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import scratchnn as sn
from pipeline.config import PROJECT_ROOT
from pipeline.data.artifacts import load_split
from pipeline.figures import learned

# Where the prepared data and the runs are: the project, or (for the test suite, on a fresh
# clone) a folder laid out like it, named by NEURALSCRATCH_TOUR.
TOUR = Path(os.environ.get("NEURALSCRATCH_TOUR", PROJECT_ROOT))
PREPARED = TOUR / "data" / "prepared"
STORE = TOUR / "mlflow.db"
print(f"prepared data: {PREPARED}\nMLflow store:  {STORE}")
if not (PREPARED / "train_x.npy").is_file():
    raise FileNotFoundError(f"{PREPARED}: nothing prepared yet; `make run` prepares the data")

# %% [markdown]
# ## 1. The data
#
# `prepare` wrote each split as two arrays: `x` holds one image per row, 784 pixels scaled to
# [0, 1], and `y` its digit. A slice of the training rows is enough to see learning happen.

# %%
x_train, y_train = load_split(PREPARED, "train")
x_val, y_val = load_split(PREPARED, "val")
x_train, y_train = x_train[:10_000], y_train[:10_000]  # a slice: a few seconds per epoch at most
print(f"train x {x_train.shape} {x_train.dtype}, y {y_train.shape}; val x {x_val.shape}")

figure, axes = plt.subplots(1, 8, figsize=(8, 1.3))
for ax, image, label in zip(axes, x_train, y_train, strict=False):
    ax.imshow(image.reshape(28, 28), cmap="gray_r")
    ax.set_title(str(label))
    ax.set_axis_off()

# %% [markdown]
# ## 2. A network, and a few epochs of training
#
# A network is a list of layers; `build_network` reads them from dicts, as `conf/model/` does.
# Every layer declares the shapes of its parameters from its input shape, and the network keeps
# all of them in one flat array (`network.params`), which the optimiser updates in a few passes.

# %%
rng = np.random.default_rng(0)
layers = [
    {"type": "dense", "units": 64},
    {"type": "relu"},
    {"type": "dense", "units": 10},
]
network = sn.build_network(layers, input_shape=(784,), rng=rng)
for layer in network.layers:
    print(f"{layer.type_name:6} {layer.input_shape} -> {layer.output_shape}")
print(f"{network.parameter_count} parameters in one array of {network.params.dtype}")

# %%
EPOCHS = 3
history = sn.fit(
    network,
    sn.Adam(),
    sn.cosine_decay(0.002, EPOCHS),
    x_train,
    y_train,
    epochs=EPOCHS,
    batch_size=64,
    rng=rng,
    validation=(x_val, y_val),
)
for epoch in history:
    print(
        f"epoch {epoch.epoch}: loss {epoch.train_loss:.4f}, "
        f"validation accuracy {100 * epoch.val_accuracy:.2f} %"
    )

# %% [markdown]
# ## 3. Is the gradient right? Central differences
#
# `backward` computes the gradient of the loss by hand (the chain rule, layer by layer). To check
# it, nudge one weight by ±ε, measure the loss both times, and divide:
# $\partial L / \partial w \approx (L(w + \varepsilon) - L(w - \varepsilon)) / 2\varepsilon$.
# In float64 the two agree to about 7 digits; a wrong backward pass is off by far more. (A zero
# on both sides: that hidden unit is off, below ReLU's kink, for all eight images.)

# %%
check = sn.build_network(layers, input_shape=(784,), rng=np.random.default_rng(1), dtype=np.float64)
loss = sn.SoftmaxCrossEntropy(10, np.float64)
x, y = x_val[:8].astype(np.float64), y_val[:8]


def loss_now() -> float:
    return loss.forward(check.forward(x, training=True), y)


loss_now()
check.backward(loss.backward())
first = check.layers[0]  # dense: W (784, 64)
analytic = first.dW.copy()

epsilon = 1e-6
pick = np.random.default_rng(2)
lit = np.flatnonzero(x.sum(axis=0))  # pixels dark in every image have a zero gradient
for i, j in zip(pick.choice(lit, 10, replace=False), pick.integers(0, 64, 10), strict=True):
    saved = first.W[i, j]
    first.W[i, j] = saved + epsilon
    plus = loss_now()
    first.W[i, j] = saved - epsilon
    minus = loss_now()
    first.W[i, j] = saved
    numeric = (plus - minus) / (2 * epsilon)
    error = abs(analytic[i, j] - numeric) / max(abs(numeric), 1e-12)
    print(f"W[{i:3}, {j:2}]  backward {analytic[i, j]: .8f}  numeric {numeric: .8f}  {error:.0e}")
    assert error < 1e-4, "backward and the finite differences disagree"

# %% [markdown]
# ## 4. What the network learned
#
# Each of the first layer's 64 units weighs all 784 pixels: drawn as a 28x28 tile, red pixels
# push the unit up, blue ones down. Then one validation image goes through every layer; the last
# row is the probability of each digit.

# %%
learned.first_layer_figure(network)

# %%
learned.activations_figure(network, x_val[0], int(y_val[0]))

# %% [markdown]
# ## 5. Two runs of the pipeline, side by side
#
# Every training of the pipeline (`make run`, `dvc exp run`, a sweep's job) is an MLflow run
# holding its whole configuration as params and its curves as metrics. `mlflow.search_runs`
# gives them as a table; here are the latest two, and what differs between them.

# %%
import warnings

warnings.filterwarnings("ignore", "IProgress not found")  # MLflow's progress bars, unused here
import mlflow  # imported here: only this part needs it, and it takes seconds

mlflow.set_tracking_uri(f"sqlite:///{STORE}")
if STORE.is_file():
    runs = mlflow.search_runs(experiment_names=["neuralscratch"], order_by=["start_time DESC"])
else:
    print(f"no MLflow store at {STORE} yet: `make run` makes the first run")
    runs = pd.DataFrame(columns=["run_id", "tags.mlflow.runName"])
if "tags.sweep.parent" in runs:  # a sweep's parent run holds no training of its own
    runs = runs[runs["tags.sweep.parent"] != "true"]
columns = {
    "tags.mlflow.runName": "run",
    "params.optimizer.lr": "lr",
    "params.train.batch_size": "batch",
    "tags.model.architecture": "model",
    "metrics.val_accuracy": "val acc",
    "metrics.test_accuracy": "test acc",
}
table = runs.reindex(columns=list(columns)).rename(columns=columns)
table.head(10)

# %%
latest = runs.head(2)
# what the runs learned from, not where they wrote (paths.* differ between any two sweep jobs)
params = [name for name in latest if name.startswith("params.") and "params.paths." not in name]
if len(latest) < 2:
    print("one run so far: `dvc exp run -S optimizer.lr=0.005` makes a second")
else:
    differ = [name for name in params if latest[name].nunique(dropna=False) > 1]
    print("what differs:", latest[differ].to_dict("records") if differ else "nothing")
    client = mlflow.MlflowClient()
    figure, ax = plt.subplots(figsize=(6, 3.5))
    for run_id, name in zip(latest["run_id"], latest["tags.mlflow.runName"], strict=True):
        curve = client.get_metric_history(run_id, "val_accuracy")
        ax.plot([m.step for m in curve], [100 * m.value for m in curve], marker="o", label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (%)")
    ax.legend()

# %% [markdown]
# ## Where next
#
# - `scratchnn/layers/dense.py`: forward and backward side by side; `tests/scratchnn/` checks
#   every layer's gradient as section 3 did.
# - `dvc exp run -S optimizer.lr=0.005`, then `make exps`: the experiments in one table;
#   `make baseline` goes back to the committed results.
# - `make ui`: the same runs in MLflow's own interface.
