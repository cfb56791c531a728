"""docs/configuration.md, "Configuration": `python -m pipeline.tools.params optimizer=sgd
train.epochs=40` writes conf/'s composition with those overrides into params.yaml; a bad override is
refused in one line and writes nothing."""

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from pipeline.config import PROJECT_ROOT


def params_tool(project: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.tools.params", *arguments],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )


def test_overrides_are_composed_into_params_yaml(tmp_path):
    """On a copy of the code and conf/ (the tool writes the params.yaml of its own project)."""
    for folder in ("pipeline", "conf"):
        shutil.copytree(PROJECT_ROOT / folder, tmp_path / folder)
    result = params_tool(tmp_path, "optimizer=sgd", "train.epochs=40")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "wrote params.yaml from conf/ optimizer=sgd train.epochs=40\n"
    written = yaml.safe_load((tmp_path / "params.yaml").read_text())
    committed = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    assert written["optimizer"]["name"] == "sgd" and written["train"]["epochs"] == 40
    assert written["model"] == committed["model"]  # the rest as conf/ has it
    assert params_tool(tmp_path, "--check", "optimizer=sgd", "train.epochs=40").returncode == 0
    assert params_tool(tmp_path, "--check").returncode == 1  # it is no longer conf/'s defaults

    before = (tmp_path / "params.yaml").read_bytes()
    refused = params_tool(tmp_path, "optimizer.lr=0")
    assert refused.returncode == 1 and refused.stderr.startswith("error: ")
    assert refused.stderr.count("\n") == 1 and "optimizer.lr=0" in refused.stderr
    assert (tmp_path / "params.yaml").read_bytes() == before
