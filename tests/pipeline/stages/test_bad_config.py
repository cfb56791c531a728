"""Every stage that reads params.yaml refuses a bad value before it reads any data: one error
line naming the file and the key, exit 1, nothing written (the data it would read is not even
there: a stage that read first would fail on that instead)."""

import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from pipeline.config import compose, to_yaml
from tests.guides import page
from tests.test_stage_deps import stage_module, stages

READS_PARAMS = ["fetch", "prepare", "train", "evaluate", "predict"]


def run_stage(folder: Path, name: str, *arguments: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", stage_module(stages()[name]), *arguments]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("name", READS_PARAMS)
def test_stage_commands_refuse_bad_config_before_reading_data(tmp_path, name):
    raw = compose()
    OmegaConf.update(raw, "optimizer.lr", float("inf"))
    (tmp_path / "params.yaml").write_text(to_yaml(raw))
    result = run_stage(tmp_path, name)
    assert result.returncode == 1, result.stderr
    assert result.stderr == (
        "error: params.yaml: optimizer.lr=inf is not allowed: it must be a finite number\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


@pytest.mark.parametrize("name", ["fetch", "prepare", "train", "evaluate"])
def test_stage_commands_refuse_arguments_they_would_ignore(tmp_path, name):
    (tmp_path / "params.yaml").write_text(to_yaml(compose()))
    result = run_stage(tmp_path, name, "optimizer.lr=0.5")
    assert result.returncode == 1, result.stderr
    assert result.stderr == (
        f"error: the {name} stage takes no arguments (got 'optimizer.lr=0.5'): it reads "
        "params.yaml; change a key with `dvc exp run -S optimizer.lr=0.5`, "
        'or `make params O="optimizer.lr=0.5"` then `dvc repro`\n'
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


CONFIGURATION = page("configuration.md")


def params_with(tmp_path, dotted: str, value) -> None:
    raw = compose(["model=cnn"] if dotted.startswith("model.layers") else [])
    OmegaConf.update(raw, dotted, value, force_add=True)
    (tmp_path / "params.yaml").write_text(to_yaml(raw))


@pytest.mark.parametrize(
    ("dotted", "value", "line"),
    [
        (
            "optimizer.momentun",
            0.9,
            "error: params.yaml: optimizer.momentun: Key 'momentun' not in 'OptimizerConfig'; "
            "allowed keys: name, lr, momentum, beta1, beta2, eps, weight_decay; "
            "did you mean optimizer.momentum?",
        ),
        (
            "train.epochs",
            "ten",
            "error: params.yaml: train.epochs: Value 'ten' of type 'str' could not be converted "
            "to Integer",
        ),
        (
            "optimizer.lr",
            0.0,
            "error: params.yaml: optimizer.lr=0.0 is not allowed: it must be > 0",
        ),
        (
            "optimizer.name",
            "lamb",
            "error: params.yaml: optimizer.name: Invalid value 'lamb', expected one of "
            "[sgd, momentum, adam, adamw]",
        ),
        (
            "optimizer.lr",
            float("inf"),
            "error: params.yaml: optimizer.lr=inf is not allowed: it must be a finite number",
        ),
        (
            "model.layers[0].kernel",
            0,
            "error: params.yaml: model.layers[0].kernel=0 is not allowed: a kernel needs at least "
            "1x1 pixels",
        ),
        (
            "model.layers[9].units",
            12,
            "error: params.yaml: model.layers[9]: the network ends with (12,) values per image, "
            "not one per class (10): end with a dense layer of 10 units",
        ),
    ],
)
def test_train_refuses_the_readmes_bad_configurations_with_its_lines(tmp_path, dotted, value, line):
    """docs/configuration.md's error lines (Configuration; Other architectures), word for word, from
    the `train` stage in a folder with no data: refused before reading any."""
    assert line in CONFIGURATION
    params_with(tmp_path, dotted, value)
    result = run_stage(tmp_path, "train")
    assert (result.returncode, result.stderr) == (1, line + "\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]
