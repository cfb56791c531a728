"""docs/troubleshooting.md, "When things go wrong": "Every entry point prints one line starting with
`error:` and exits non-zero for a mistake you can fix". The stages' own refusals are in
tests/pipeline/stages/test_bad_config.py; here the tools that read params.yaml too, and the table's
line for a training CSV without labels."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.errors import MissingConfigException
from omegaconf import OmegaConf

from pipeline.config import PROJECT_ROOT, ConfigError, compose, to_yaml, validate
from tests.conftest import tiny_overrides, write_digits_csv
from tests.guides import prose

TROUBLESHOOTING = prose("troubleshooting.md")
REFUSED = "error: params.yaml: optimizer.lr=inf is not allowed: it must be a finite number\n"


def run(folder: Path, *arguments: str) -> subprocess.CompletedProcess:
    env_python = [sys.executable, "-m", *arguments]
    return subprocess.run(env_python, cwd=folder, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    "command",
    [
        ["pipeline.tools.original_weights", "export", "exported"],
        [
            "pipeline.tools.original_weights",
            "evaluate",
            str(PROJECT_ROOT / "examples" / "original_weights"),
        ],
        ["pipeline.stages.predict"],
        ["pipeline.stages.predict", "--image", "digit.png"],
    ],
    ids=["export", "evaluate-original-weights", "predict", "predict-image"],
)
def test_every_tool_refuses_a_bad_params_yaml_in_one_line(tmp_path, command):
    """A tool that takes its defaults from params.yaml checks it as the stages do: one line,
    exit 1, nothing written."""
    raw = compose()
    OmegaConf.update(raw, "optimizer.lr", float("inf"))
    (tmp_path / "params.yaml").write_text(to_yaml(raw))
    result = run(tmp_path, *command)
    assert (result.returncode, result.stderr) == (1, REFUSED)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


def test_a_training_csv_without_labels_is_the_readmes_line(tmp_path):
    train_csv, test_csv = tmp_path / "my" / "train.csv", tmp_path / "my" / "test.csv"
    write_digits_csv(train_csv, 60, labelled=False)
    write_digits_csv(test_csv, 10, labelled=False)
    overrides = [*tiny_overrides(tmp_path / "out", (train_csv, test_csv)), "tracking.enabled=false"]
    (tmp_path / "params.yaml").write_text(to_yaml(compose(overrides)))
    result = run(tmp_path, "pipeline.stages.prepare")
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    line = result.stderr.rstrip("\n")
    assert re.fullmatch(
        rf"error: {re.escape(str(train_csv))}: no 'label' column in the header \(first columns: "
        r"\['1x1', '1x2', '1x3'\]\); a training file needs one",
        line,
    ), line
    shown = line.replace(str(train_csv), "my/train.csv").replace(
        "(first columns: ['1x1', '1x2', '1x3'])", "(...)"
    )
    assert f"`{shown}`" in TROUBLESHOOTING  # the guide's table shows this line
    assert not (tmp_path / "out").exists()


def test_an_option_conf_lacks_stops_in_hydras_words_as_dvc_shows_them():
    """docs/troubleshooting.md, "DVC's own messages": `dvc exp run -S model=resnet` stops in the
    composition DVC asks Hydra for, which says "In 'config': Could not find 'model/resnet'" and
    lists the group's options, the files of conf/model/; `experiment=resnet` is the recipe."""
    from hydra import compose as hydra_compose  # what DVC calls: our compose makes it one line
    from hydra import initialize_config_dir

    with (
        pytest.raises(MissingConfigException) as refused,
        initialize_config_dir(str(PROJECT_ROOT / "conf"), version_base="1.3"),
    ):
        hydra_compose("config", ["model=resnet"])
    message = str(refused.value)
    assert message.startswith("In 'config': Could not find 'model/resnet'\n")
    options = sorted(path.stem for path in (PROJECT_ROOT / "conf" / "model").glob("*.yaml"))
    listed = "".join(f"\t{option}\n" for option in options)
    assert f"\nAvailable options in 'model':\n{listed}" in message
    shown = "`ERROR: unexpected error - In 'config': Could not find 'model/resnet'`"
    assert f"{shown}, then `Available options in 'model':`" in TROUBLESHOOTING
    assert "`dvc exp run -S experiment=resnet`" in TROUBLESHOOTING
    assert validate(compose(["experiment=resnet"])).model.layers
    with pytest.raises(
        ConfigError, match=r"^overrides 'model=resnet': In 'config': Could not find"
    ):
        compose(["model=resnet"])  # `neuralscratch-params model=resnet`: the same, in one line
