"""The fix of Optuna's shared storage is installed for Optuna's sweeper only: importing optuna
costs every other sweep 1.4 s. (The fix itself, two sweeps sharing one study on PostgreSQL, is
tests/cluster/test_optuna.py.)"""

import pytest

from pipeline.tools import optuna_storage
from tests.conftest import hydra_config


def sweeper(*overrides: str):
    return hydra_config(*overrides).hydra.sweeper


@pytest.mark.parametrize(
    ("overrides", "patched"),
    [([], False), (["hparams_search=optuna"], True)],
    ids=["basic sweeper", "hparams_search=optuna"],
)
def test_the_storage_fix_is_installed_for_optunas_sweeper_only(monkeypatch, overrides, patched):
    from optuna.storages._rdb.storage import _VersionManager

    monkeypatch.setattr(_VersionManager, "_set_alembic_revision", None)  # restored after
    assert optuna_storage.install_for(sweeper(*overrides)) is patched
    installed = _VersionManager._set_alembic_revision is optuna_storage._set_alembic_revision
    assert installed is patched
