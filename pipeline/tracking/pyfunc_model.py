"""The MLflow Model of a trained network: a ``pyfunc`` that MLflow loads from this file's code.

"Models from code": MLflow copies this file into the logged model and runs it at load time; the
model holds no pickled Python object, only this file, the ``scratchnn`` folder (shipped as
code), and the weights as ``.npz`` (read with ``allow_pickle=False``). It imports nothing of the
pipeline and needs only NumPy, pandas and MLflow, so it loads anywhere MLflow does:

    mlflow.pyfunc.load_model("runs:/<id>/model").predict(df)   # df: 784 columns in [0, 1]

Input: one row per image, the 784 pixels (``pixel0`` ... ``pixel783``, row-major 28x28, white
ink on black) scaled to [0, 1]. Output: ``digit`` (the predicted class) and ``p0`` ... ``p9``,
the probability of each class.
"""

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
OUTPUTS = ["digit", *(f"p{digit}" for digit in range(N_CLASSES))]


class DigitClassifier(PythonModel):
    """scratchnn's network behind MLflow's ``predict(DataFrame) -> DataFrame``."""

    def load_context(self, context) -> None:
        self.network = sn.load_weights(
            context.artifacts[WEIGHTS], n_inputs=N_PIXELS, n_outputs=N_CLASSES
        )

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
        result = pd.DataFrame(probabilities, columns=OUTPUTS[1:], index=frame.index)
        result.insert(0, "digit", probabilities.argmax(axis=1).astype(np.int64))
        return result


set_model(DigitClassifier())
