"""The MLflow Model of a trained network: a ``pyfunc`` that MLflow loads from this file's code.

"Models from code": MLflow copies this file into the logged model and runs it at load time; the
model holds no pickled Python object, only this file, the ``scratchnn`` folder (shipped as
code), and the weights as ``.npz`` (read with ``allow_pickle=False``). It imports nothing of the
pipeline and needs only NumPy, pandas and MLflow, so it loads anywhere MLflow does:

    mlflow.pyfunc.load_model("runs:/<id>/model").predict(df)   # df: 784 columns in [0, 1]

Input: one row per image, the 784 pixels (``pixel0`` ... ``pixel783``, row-major 28x28, white
ink on black) scaled to [0, 1]. Output, for digits: ``digit`` (the predicted class) and ``p0``
... ``p9``, the probability of each class; for other classes (named in the model's artifact
``classes.json``, e.g. Fashion-MNIST's): ``label`` (the predicted class's number), ``class``
(its name) and ``p_<name>`` for each class (``p_T-shirt/top`` ... ``p_Ankle boot``).
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel

import scratchnn as sn

WEIGHTS = "weights"  # the name of the .npz among the model's artifacts
N_PIXELS = 784
N_CLASSES = 10
CHUNK_ROWS = 8192
PIXELS = [f"pixel{i}" for i in range(N_PIXELS)]
DIGITS = [str(digit) for digit in range(N_CLASSES)]
CLASSES = "classes"  # the artifact naming each class, in order (a JSON list); none: digits
CLASSES_FILE = "classes.json"


def output_columns(classes: list[str]) -> list[str]:
    """``digit, p0..p9`` for the digits; else ``label, class`` and ``p_<name>`` per class."""
    if classes == DIGITS:
        return ["digit", *(f"p{digit}" for digit in classes)]
    return ["label", "class", *(f"p_{name}" for name in classes)]


class ImageClassifier(PythonModel):
    """scratchnn's network behind MLflow's ``predict(DataFrame) -> DataFrame``."""

    def load_context(self, context) -> None:
        self.network = sn.load_weights(
            context.artifacts[WEIGHTS], n_inputs=N_PIXELS, n_outputs=N_CLASSES
        )
        names = context.artifacts.get(CLASSES)
        self.classes = json.loads(Path(names).read_text()) if names else DIGITS
        self.columns = output_columns(self.classes)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        x = np.ascontiguousarray(frame.to_numpy(dtype=self.network.dtype))
        if x.ndim != 2 or x.shape[1] != N_PIXELS:
            raise ValueError(f"expected rows of {N_PIXELS} pixel values, got shape {x.shape}")
        logits = np.empty((len(x), N_CLASSES))
        for start in range(0, len(x), CHUNK_ROWS):  # forward reuses its buffers: copy out
            logits[start : start + CHUNK_ROWS] = self.network.forward(x[start : start + CHUNK_ROWS])
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        n_named = len(self.columns) - N_CLASSES  # digit; or label and class
        result = pd.DataFrame(probabilities, columns=self.columns[n_named:], index=frame.index)
        predicted = probabilities.argmax(axis=1).astype(np.int64)
        if n_named == 2:
            result.insert(0, "class", np.array(self.classes, dtype=object)[predicted])
        result.insert(0, self.columns[0], predicted)
        return result


set_model(ImageClassifier())
