"""Reading a trained network back from an MLflow model URI, without running the model's code.

``predict --model models:/neuralscratch@champion`` (or ``runs:/<id>/model``) downloads the
model's files and loads only the ``.npz`` its ``MLmodel`` names (``allow_pickle=False``): no
file of the model is imported or executed, so a model from someone else cannot run code here.
"""

import tempfile
from pathlib import Path

import numpy as np
import yaml

import scratchnn as sn
from pipeline.data.artifacts import N_CLASSES, N_PIXELS
from pipeline.errors import PipelineError
from pipeline.tracking.redact import redact_text

URI_SCHEMES = ("runs:/", "models:/")
WEIGHTS_ARTIFACT = "weights"  # the key pipeline/tracking/pyfunc_model.py gives the .npz


def is_model_uri(text: str | Path) -> bool:
    return str(text).startswith(URI_SCHEMES)


def weights_file(model_dir: Path) -> Path:
    """The ``.npz`` inside a downloaded MLflow Model, as its ``MLmodel`` file names it."""
    mlmodel = model_dir / "MLmodel"
    if not mlmodel.is_file():
        raise PipelineError(f"{model_dir}: not an MLflow Model (no MLmodel file)")
    flavor = (yaml.safe_load(mlmodel.read_text()) or {}).get("flavors", {}).get("python_function")
    artifact = ((flavor or {}).get("artifacts") or {}).get(WEIGHTS_ARTIFACT) or {}
    path = (model_dir / str(artifact.get("path", ""))).resolve()
    if not artifact or not path.is_relative_to(model_dir.resolve()) or not path.is_file():
        raise PipelineError(f"{model_dir}: this MLflow Model has no scratchnn weights")
    return path


def weights_from_uri(uri: str, dtype: np.dtype | type | None = None) -> sn.Network:
    """The network of an MLflow model URI (``models:/name@alias``, ``runs:/<id>/model``)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from pipeline.tracking.mlflow_runs import tracking_uri

    mlflow.set_tracking_uri(tracking_uri())
    with tempfile.TemporaryDirectory() as folder:
        try:
            local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=folder))
        except MlflowException as error:
            raise PipelineError(f"{uri}: {redact_text(error.message)}") from None
        return sn.load_weights(
            weights_file(local), dtype=dtype, n_inputs=N_PIXELS, n_outputs=N_CLASSES
        )
