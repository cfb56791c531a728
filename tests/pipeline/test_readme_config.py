"""docs/configuration.md, "Other architectures", docs/tracking.md and the sweeps on a cluster
(docs/sweeps.md): the configuration accepts what the guides name and show, read from the guides."""

import re

import numpy as np
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from pipeline.config import ConfigError, compose, validate
from pipeline.network.factory import build_network, check_model
from scratchnn.layers.base import LAYER_TYPES, Layer, register
from tests.conftest import hydra_config
from tests.guides import page, section

ARCHITECTURES = section(
    page("configuration.md"), "## Other architectures: `model.*`, `data.augment`"
)
PROSE = " ".join(ARCHITECTURES.split())
ACTIVATIONS = re.search(r"takes an activation \(([^)]*)\)", PROSE).group(1)
LAYERS = re.search(r"any stack of scratchnn's layers \(([^)]*) and the activations\)", PROSE)


def names(text: str) -> list[str]:
    return re.findall(r"`(\w+)`", text)


@pytest.mark.parametrize("activation", names(ACTIVATIONS))
def test_every_activation_the_readme_names_is_accepted(activation):
    cfg = validate(compose([f"model.activation={activation}"]))
    network = build_network(cfg, 784, 10)
    assert activation in {layer.type_name for layer in network.layers}


def test_every_layer_type_the_readme_names_is_registered():
    """The layers docs/configuration.md names, with the activations, are exactly scratchnn's
    registry."""
    listed = set(names(LAYERS.group(1))) | set(names(ACTIVATIONS))
    assert listed == set(LAYER_TYPES)


def readme_overrides() -> list[list[str]]:
    """The override sets of the section's commands: each `dvc exp run -S ...` line, and each
    job of a `sweep -m key=a,b,c` line, as Hydra's own parser splits the sweep into jobs."""
    sets = []
    for line in re.findall(r"^\$ (.*)$", ARCHITECTURES, flags=re.MULTILINE):
        line = line.split("#")[0]
        if line.startswith("dvc exp run"):
            sets.append(re.findall(r"-S (\S+)", line))
        elif "pipeline.tools.sweep -m" in line:
            (sweep,) = OverridesParser.create().parse_overrides([line.split("sweep -m ", 1)[1]])
            key = sweep.get_key_element()
            sets.extend([f"{key}={value}"] for value in sweep.sweep_string_iterator())
    return sets


def test_the_readmes_example_overrides_compose_and_validate():
    """docs/configuration.md, "Other architectures": each `dvc exp run -S` line and each job of the
    two sweeps (`model=mlp,cnn`; `model.dropout=0,0.2,0.5`, whose jobs get dropout layers of that
    rate)."""
    sets = readme_overrides()
    assert len(sets) == 5 + 2 + 3  # five exp runs, model=mlp,cnn, three dropouts
    rates = []
    for overrides in sets:
        cfg = validate(compose(overrides))
        check_model(cfg)
        network = build_network(cfg, 784, 10)
        rates.append({layer.rate for layer in network.layers if layer.type_name == "dropout"})
    assert rates[-3:] == [set(), {0.2}, {0.5}]  # dropout 0: no dropout layer
    gelu = validate(compose(sets[0]))
    assert gelu.model.hidden_sizes == [256, 128] and gelu.model.dropout == 0.2
    assert gelu.model.activation.value == "gelu"
    adamw = validate(compose(sets[4]))
    assert adamw.optimizer.name.value == "adamw" and adamw.train.weight_decay == 0
    assert adamw.schedule.warmup_epochs == 2 and adamw.train.clip_norm == 1.0


def test_the_default_experiment_is_neuralscratch():
    assert validate(compose()).tracking.experiment == "neuralscratch"
    assert "`tracking.experiment` (default\n`neuralscratch`)" in page("tracking.md")


def test_the_slurm_launcher_takes_the_readmes_settings():
    """docs/sweeps.md's SLURM command: Hydra's submitit_slurm launcher has every setting it
    passes (a wrong name would be refused by Hydra)."""
    command = page("sweeps.md").split("hydra/launcher=submitit_slurm", 1)[1].split("```", 1)[0]
    overrides = ["hydra/launcher=submitit_slurm"] + [
        word for word in command.replace("\\\n", " ").split() if word.startswith("hydra.launcher.")
    ]
    assert len(overrides) == 6
    overrides = [o.replace("<partition>", "debug") for o in overrides]
    launcher = hydra_config(*overrides).hydra.launcher
    assert launcher.partition == "debug" and launcher.timeout_min == 30
    assert launcher.cpus_per_task == 4 and launcher.mem_gb == 8
    assert launcher.array_parallelism == 8 and "SlurmLauncher" in launcher._target_


def test_a_registered_layer_is_accepted_by_name():
    """docs/library.md: "A new layer is one class with `@register("name")` and its tests;
    `build_network` and the configuration then accept it by name"."""

    class Negate(Layer):
        def __init__(self) -> None:
            pass

        def output_shape_for(self, input_shape):
            return input_shape

        def work_per_row(self) -> int:
            return 0

        def forward(self, x, training=False, rng=None):
            return -x

        def backward(self, dy):
            return -dy

    layers = "[{type:dense,units:16},{type:negate},{type:dense,units:10}]"
    unknown = validate(compose([f"+model.layers={layers}"]))
    with pytest.raises(ConfigError, match="negate"):
        check_model(unknown)  # not registered yet: refused, naming it
    register("negate")(Negate)
    try:
        cfg = validate(compose([f"+model.layers={layers}"]))
        check_model(cfg)
        network = build_network(cfg, 784, 10)
        assert [layer.type_name for layer in network.layers] == ["dense", "negate", "dense"]
        assert network.predict(np.zeros((2, 784), dtype=np.float32)).shape == (2,)
    finally:
        del LAYER_TYPES["negate"]
