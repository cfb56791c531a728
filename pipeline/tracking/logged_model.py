"""The trained network as an MLflow Model in its run.

``log_model`` logs ``pipeline/tracking/pyfunc_model.py`` as a models-from-code ``pyfunc`` named
``model`` (``runs:/<id>/model``), with ``scratchnn`` shipped as code, the weights as an artifact, a
signature (784 float pixel columns -> ``digit`` and ``p0``...``p9``, or for named classes
``label``, ``class`` and ``p_<name>``), the class names as an artifact (``classes.json``; a
``model_config`` would also be logged as the run's parameters), and an input example.

MLflow checks an input example by loading the model back and predicting it, as a server would
(0.8 s of the 0.9-1.2 s that logging took, in the train stage's way). ``Model.log`` skips that
check when its keyword arguments say ``validate_serving_input=False``, but hands every keyword
on to the flavor's ``save_model`` too, and pyfunc's refuses one it does not know: the flavor
given to ``Model.log`` is pyfunc minus that keyword. The example is saved all the same; the
signature and the requirements are given, so MLflow infers neither; the tests load the logged
model and predict with it.
"""

import importlib.metadata
import json
import logging
import os
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

import scratchnn as sn
from pipeline.data.artifacts import N_CLASSES, N_PIXELS

ARTIFACT_NAME = "model"  # runs:/<id>/model
REGISTERED_MODEL = "neuralscratch"  # MNIST's; another dataset's models get its name appended

# What the model needs where it is loaded (`mlflow models serve --env-manager virtualenv`)
REQUIREMENTS = ("mlflow-skinny", "numpy", "pandas")


def registered_model(dataset: str) -> str:
    """The registered model a run on ``dataset`` (its ``data.name``) becomes a version of: each
    dataset has its own champion (a digit model's accuracy says nothing of clothes)."""
    return (
        REGISTERED_MODEL
        if dataset == "mnist"
        else f"{REGISTERED_MODEL}-{dataset.replace('_', '-')}"
    )


def signature(classes: list[str]):
    """784 float pixel columns in [0, 1] -> the predicted class (its number, and its name when
    the classes are not the digits) and the probability of each class."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    from pipeline.tracking.pyfunc_model import output_columns

    inputs = Schema([ColSpec("float", f"pixel{i}") for i in range(N_PIXELS)])
    columns = output_columns(classes)
    named = [ColSpec("long", columns[0])] + [
        ColSpec("string", name) for name in columns[1:-N_CLASSES]
    ]
    outputs = Schema([*named, *(ColSpec("double", name) for name in columns[-N_CLASSES:])])
    return ModelSignature(inputs=inputs, outputs=outputs)


def architecture(network: sn.Network) -> str:
    """``784 → dense 128 → relu → dense 64 → relu → dense 10``: each layer, with the shape of
    its output where it changes."""
    parts = ["x".join(map(str, network.input_shape))]
    shape = tuple(network.input_shape)
    for layer in network.layers:
        changed = tuple(layer.output_shape) != shape
        shape = tuple(layer.output_shape)
        parts.append(layer.type_name + (f" {'x'.join(map(str, shape))}" if changed else ""))
    return " → ".join(parts)


def architecture_tags(network: sn.Network) -> dict[str, str]:
    """What the runs table shows of a model: its layers and its number of trainable parameters."""
    return {
        "model.architecture": architecture(network),
        "model.parameter_count": str(network.parameter_count),
    }


def pinned_requirements() -> list[str]:
    return [f"{name}=={importlib.metadata.version(name)}" for name in REQUIREMENTS]


def pyfunc_flavor() -> SimpleNamespace:
    """``mlflow.pyfunc`` as ``Model.log``'s flavor, leaving out ``validate_serving_input``."""
    import mlflow.pyfunc

    def save_model(*args: Any, validate_serving_input: bool = True, **kwargs: Any) -> None:
        mlflow.pyfunc.save_model(*args, **kwargs)

    return SimpleNamespace(save_model=save_model)


def log_model(
    tracking_uri: str,
    experiment_id: str,
    run_id: str,
    weights: Path,
    example: np.ndarray,
    classes: list[str],
) -> str:
    """Log ``weights`` as the MLflow Model of run ``run_id`` (in ``experiment_id``: MLflow files
    a logged model under the active experiment, not its run's); ``example``: a few input rows;
    ``classes``: the name of each class. Returns the logged model's id."""
    import mlflow
    import pandas as pd
    from mlflow.models import Model

    from pipeline.tracking import pyfunc_model

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment_id=experiment_id)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one per file, else
    logging.getLogger("mlflow.pyfunc").setLevel(logging.WARNING)  # "Validating input example"
    with tempfile.TemporaryDirectory(prefix="classes-") as folder:
        names = Path(folder) / pyfunc_model.CLASSES_FILE
        names.write_text(json.dumps(classes))
        info = Model.log(
            artifact_path=None,
            name=ARTIFACT_NAME,
            flavor=pyfunc_flavor(),
            flavor_name="pyfunc.ModelFromCode",
            validate_serving_input=False,  # loading the model back and predicting: see above
            run_id=run_id,
            python_model=pyfunc_model.__file__,
            artifacts={pyfunc_model.WEIGHTS: str(weights), pyfunc_model.CLASSES: str(names)},
            code_paths=[str(Path(sn.__file__).parent)],
            signature=signature(classes),
            input_example=pd.DataFrame(example.astype(np.float32), columns=pyfunc_model.PIXELS),
            pip_requirements=pinned_requirements(),
        )
    return info.model_id
