"""The prepared splits as MLflow dataset inputs: what fills the runs table's *Datasets* column.

Each split is logged with ``mlflow.log_input``'s entities: a name (``mnist-train``,
``fashion-mnist-train``), a digest
(the first 16 hex digits of the SHA-256 of its ``.npy`` arrays, so two runs on the same
prepared data show the same digest), its source (the CSV it was cut from), its schema, row
count, class names and label counts per class, and the context MLflow's UI groups inputs by
(``training``, ``validation``, ``test``).
"""

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.config import PROJECT_ROOT
from pipeline.data import catalog
from pipeline.data.artifacts import INFO_FILE, SPLITS

CONTEXTS = {"train": "training", "val": "validation", "test": "test"}
SOURCE_OF = {"train": "train", "val": "train", "test": "test"}  # validation is cut from train
DIGEST_CHARS = 16  # MLflow's store keeps at most 36


def split_digest(prepared: Path, split: str) -> str:
    """SHA-256 of the split's arrays (``{split}_x.npy``, then ``{split}_y.npy`` if present)."""
    digest = hashlib.sha256()
    for name in (f"{split}_x.npy", f"{split}_y.npy"):
        path = prepared / name
        if path.is_file():
            with path.open("rb") as file:
                while chunk := file.read(1 << 22):
                    digest.update(chunk)
    return digest.hexdigest()[:DIGEST_CHARS]


def shown_path(path: str) -> str:
    """A path relative to the project when it lies inside it (meaningful on another machine)."""
    resolved = Path(path).resolve()
    inside = resolved.is_relative_to(PROJECT_ROOT)
    return str(resolved.relative_to(PROJECT_ROOT)) if inside else path


def split_dataset(
    prepared: Path, split: str, info: dict[str, Any], data: catalog.Dataset = catalog.MNIST
):
    """The ``mlflow.entities.Dataset`` of one prepared split of ``data``."""
    from mlflow.entities import Dataset
    from mlflow.types.schema import Schema, TensorSpec

    x = np.load(prepared / f"{split}_x.npy", mmap_mode="r", allow_pickle=False)
    labels = prepared / f"{split}_y.npy"
    y = np.load(labels, mmap_mode="r", allow_pickle=False) if labels.is_file() else None
    tensors = {"features": Schema([TensorSpec(x.dtype, (-1, *x.shape[1:]))]).to_json()}
    if y is not None:
        tensors["targets"] = Schema([TensorSpec(y.dtype, (-1,))]).to_json()
    csv = info.get("sources", {}).get(SOURCE_OF[split], "")
    profile = {"num_rows": int(x.shape[0]), "features_shape": list(x.shape)}
    profile["classes"] = list(data.classes)
    if y is not None:
        profile["label_counts"] = info.get("label_counts", {}).get(split)
    return Dataset(
        name=f"{data.name.replace('_', '-')}-{split}",
        digest=split_digest(prepared, split),
        source_type="local",
        source=json.dumps({"uri": shown_path(csv)} if csv else {}),
        schema=json.dumps({"mlflow_tensorspec": tensors}),
        profile=json.dumps(profile),
    )


def dataset_inputs(prepared: str | Path, data: catalog.Dataset = catalog.MNIST) -> list:
    """``mlflow.entities.DatasetInput`` of every split of ``data`` present in ``prepared``."""
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    folder = Path(prepared)
    info_file = folder / INFO_FILE
    info = json.loads(info_file.read_text()) if info_file.is_file() else {}
    return [
        DatasetInput(
            split_dataset(folder, split, info, data),
            tags=[InputTag(MLFLOW_DATASET_CONTEXT, CONTEXTS[split])],
        )
        for split in SPLITS
        if (folder / f"{split}_x.npy").is_file()
    ]
