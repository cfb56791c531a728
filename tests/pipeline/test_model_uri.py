"""docs/tracking.md, "Model versions": `predict --model models:/...` "downloads the model and reads
only its weights; none of the model's files is imported or run"."""

import sys
from pathlib import Path

import mlflow
import numpy as np
import yaml

import scratchnn as sn
from pipeline.tracking import model_uri

PLANTED = """
import pathlib
pathlib.Path({marker!r}).write_text("imported")
"""


def test_a_model_uri_is_read_for_its_weights_only(tmp_path, monkeypatch):
    """A downloaded model whose code files would leave a marker if imported or run: the
    network comes back with the weights' values, and neither marker nor module appears."""
    network = sn.mlp([784, 8, 10], rng=np.random.default_rng(0))
    model = tmp_path / "model"
    (model / "artifacts").mkdir(parents=True)
    sn.save_weights(network, model / "artifacts" / "model.npz")
    markers = [tmp_path / "code_ran", tmp_path / "library_ran"]
    (model / "pyfunc_model.py").write_text(PLANTED.format(marker=str(markers[0])))
    (model / "code" / "scratchnn").mkdir(parents=True)
    (model / "code" / "scratchnn" / "__init__.py").write_text(
        PLANTED.format(marker=str(markers[1]))
    )
    flavor = {
        "loader_module": "mlflow.pyfunc.model",
        "python_model": "pyfunc_model.py",
        "code": "code",
        "artifacts": {"weights": {"path": "artifacts/model.npz", "uri": "model.npz"}},
    }
    (model / "MLmodel").write_text(yaml.safe_dump({"flavors": {"python_function": flavor}}))

    def download(uri: str, dst_path: str) -> str:
        assert uri == "models:/neuralscratch@champion"
        copy = Path(dst_path) / "model"
        copy.mkdir()
        for path in model.rglob("*"):
            if path.is_file():
                target = copy / path.relative_to(model)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())
        return str(copy)

    monkeypatch.setattr(mlflow.artifacts, "download_artifacts", download)
    monkeypatch.setattr(mlflow, "set_tracking_uri", lambda uri: None)  # no store is opened
    modules = set(sys.modules)
    loaded = model_uri.weights_from_uri("models:/neuralscratch@champion")
    assert np.array_equal(loaded.params, network.params)
    assert not [marker for marker in markers if marker.exists()]
    assert not [name for name in set(sys.modules) - modules if "pyfunc_model" in name]
