"""The launcher and sweeper classes we recognise are exactly those the plugins' own
configurations name, as `hydra/launcher=...` and `hparams_search=optuna` compose them."""

import pytest

from pipeline.tools import launchers
from tests.conftest import hydra_config


@pytest.mark.parametrize(
    ("override", "node", "expected"),
    [
        ("hydra/launcher=joblib", "launcher", launchers.JOBLIB),
        ("hydra/launcher=submitit_slurm", "launcher", launchers.SUBMITIT_SLURM),
        ("hydra/launcher=submitit_local", "launcher", launchers.SUBMITIT_LOCAL),
        ("hparams_search=optuna", "sweeper", launchers.OPTUNA_SWEEPER),
    ],
)
def test_each_class_is_the_one_the_plugin_configures(override, node, expected):
    assert launchers.target(hydra_config(override).hydra[node]) == expected


def test_the_checks_tell_the_launchers_and_sweepers_apart():
    basic = hydra_config().hydra
    joblib = hydra_config("hydra/launcher=joblib").hydra.launcher
    slurm = hydra_config("hydra/launcher=submitit_slurm").hydra.launcher
    local = hydra_config("hydra/launcher=submitit_local").hydra.launcher
    assert launchers.is_basic_sweeper(basic.sweeper)
    assert not launchers.is_optuna(basic.sweeper)
    assert [launchers.is_joblib(n) for n in (basic.launcher, joblib, slurm, local)] == [
        False, True, False, False,
    ]  # fmt: skip
    assert [launchers.is_slurm(n) for n in (basic.launcher, joblib, slurm, local)] == [
        False, False, True, False,
    ]  # fmt: skip
    assert [launchers.is_submitit(n) for n in (basic.launcher, joblib, slurm, local)] == [
        False, False, True, True,
    ]  # fmt: skip
    assert launchers.target(None) == ""
