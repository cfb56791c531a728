"""The Hydra launchers and sweepers this project recognises, by their ``_target_`` class.

Every check of which launcher or sweeper a sweep uses goes through here, matched exactly against
the class the plugin's own configuration names (``hydra/launcher=joblib`` sets
``hydra.launcher._target_`` to ``JOBLIB``).
"""

from collections.abc import Mapping
from typing import Any

JOBLIB = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
SUBMITIT_SLURM = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
SUBMITIT_LOCAL = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher"
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
OPTUNA_SWEEPER = "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"


def target(node: Mapping[str, Any] | None) -> str:
    """The class a ``hydra.launcher`` or ``hydra.sweeper`` node instantiates ('' if none)."""
    return str(node.get("_target_", "")) if node is not None else ""


def is_joblib(launcher: Mapping[str, Any] | None) -> bool:
    return target(launcher) == JOBLIB


def is_slurm(launcher: Mapping[str, Any] | None) -> bool:
    return target(launcher) == SUBMITIT_SLURM


def is_submitit(launcher: Mapping[str, Any] | None) -> bool:
    """SLURM's launcher or submitit's local one: each job a process of its own."""
    return target(launcher) in (SUBMITIT_SLURM, SUBMITIT_LOCAL)


def is_basic_sweeper(sweeper: Mapping[str, Any] | None) -> bool:
    return target(sweeper) == BASIC_SWEEPER


def is_optuna(sweeper: Mapping[str, Any] | None) -> bool:
    return target(sweeper) == OPTUNA_SWEEPER
