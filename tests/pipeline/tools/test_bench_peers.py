"""``make bench-peers`` on tiny generated arrays: what it measures and reports, not speed.

PyTorch is not a dependency of the project, so in its environment the benchmark must say in one
line that PyTorch cannot be imported and time scratchnn alone; where PyTorch is importable (the
benchmark's own environment), it must report each ratio."""

import ast
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.config import PROJECT_ROOT
from pipeline.tools.bench import peers
from tests.conftest import digit_images

HAS_TORCH = importlib.util.find_spec("torch") is not None


@pytest.fixture
def prepared(tmp_path: Path) -> Path:
    """A prepared-data folder of 200 training rows."""
    folder = tmp_path / "prepared"
    folder.mkdir()
    pixels, labels = digit_images(200, 1)
    np.save(folder / "train_x.npy", (pixels / 255).astype(np.float32))
    np.save(folder / "train_y.npy", labels.astype(np.int64))
    return folder


def test_a_run_reports_each_network_and_says_whether_pytorch_ran(prepared, tmp_path, capsys):
    output = tmp_path / "peers.json"
    argv = ["--prepared", str(prepared), "--output", str(output), "--repeats", "2"]
    peers.main(
        [*argv, "--warmup", "0", "--networks", "mlp", "cnn", "--rows", "150", "--threads", "1"]
    )
    printed = capsys.readouterr().out
    results = json.loads(output.read_text())
    assert results["threads"] == 1 and "1 threads each" in printed
    assert set(results["networks"]) == {"mlp", "cnn"}
    for name, recipe in (("mlp", "the default"), ("cnn", "experiment=cnn")):
        run = results["networks"][name]
        assert run["recipe"] == recipe and run["rows"] == 150 and run["batch_size"] == 128
        assert len(run["rounds"]["scratchnn"]) == 2 and run["scratchnn_seconds"] > 0
        assert f"{name} ({recipe}, batch 128, 150 rows): scratchnn " in printed
    if HAS_TORCH:
        assert results["networks"]["cnn"]["ratio"] > 0
        assert "x PyTorch's (target <= 0.8: " in printed
    else:
        line = "PyTorch cannot be imported (No module named 'torch'; make bench-peers installs"
        assert printed.count(line) == 2  # when it starts, and in the report
        assert set(results["networks"]["cnn"]["rounds"]) == {"scratchnn"}
        assert "ratio" not in results["networks"]["cnn"] and "pytorch" not in results


def test_missing_prepared_data_is_one_clear_error(tmp_path):
    with pytest.raises(peers.PipelineError, match=r"no prepared data in .*: run `make run` first"):
        peers.main(["--prepared", str(tmp_path / "nowhere"), "--output", str(tmp_path / "o")])


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module.split(".")[0])
    return modules


def test_pytorch_stays_out_of_the_library_the_stages_and_their_deps():
    """Only the benchmark's two modules may import it (by name, at run time); no stage of
    dvc.yaml depends on the benchmark."""
    sources = [*PROJECT_ROOT.joinpath("scratchnn").rglob("*.py")]
    sources += PROJECT_ROOT.joinpath("pipeline").rglob("*.py")
    assert [path for path in sources if "torch" in imported_modules(path)] == []
    for name, stage in yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"].items():
        deps = " ".join(stage.get("deps", []))
        assert "bench" not in deps, name
