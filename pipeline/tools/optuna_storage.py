"""Optuna's shared storage (``hydra.sweeper.storage=<database URL>``) on SQLAlchemy 2.

optuna 2.10.1 (hydra-optuna-sweeper needs ``optuna<3``) stamps its schema revision through a
connection it never commits: SQLAlchemy 2 rolls the stamp back, and the next start fails with
an ``AssertionError`` in ``get_current_version``. :func:`install` makes the stamp a committed
transaction (``engine.begin()``); the sweep installs it before the sweeper opens the storage.
"""

from collections.abc import Mapping
from typing import Any

from pipeline.tools import launchers


def _set_alembic_revision(self, revision: str) -> None:
    import alembic.migration

    script = self._create_alembic_script()
    with self.engine.begin() as connection:  # committed when the block ends
        alembic.migration.MigrationContext.configure(connection).stamp(script, revision)


def install() -> None:
    """Patch optuna's version manager, if optuna is installed (a no-op otherwise)."""
    try:
        from optuna.storages._rdb.storage import _VersionManager
    except ImportError:
        return
    _VersionManager._set_alembic_revision = _set_alembic_revision


def install_for(sweeper: Mapping[str, Any] | None) -> bool:
    """Patch optuna only for Optuna's sweeper: importing optuna takes 1.4 s (it loads SciPy,
    scikit-learn and matplotlib), which every other sweep would pay for nothing. Returns whether
    it patched."""
    if not launchers.is_optuna(sweeper):
        return False
    install()
    return True


def create_storage(url: str) -> None:
    """Create the schema of an empty study database once, before sweeps share it (two sweeps
    creating the tables at the same moment would collide)."""
    install()
    from optuna.storages import RDBStorage

    RDBStorage(url).remove_session()
