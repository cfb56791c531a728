"""The DVC stages, one module each: fetch -> prepare -> train -> evaluate, predict, plots_template.

Each is run by ``dvc.yaml`` as ``python -m pipeline.stages.<name>`` and imports no other stage:
what two stages share lives in ``pipeline/`` (see ``pipeline.data.artifacts``), so a
stage's ``deps`` in ``dvc.yaml`` is its import closure (``tests/test_stage_deps.py`` keeps it so).

Importing this package first checks the interpreter: ``dvc.yaml`` runs ``python``, whichever
comes first on PATH, so ``.venv/bin/dvc repro`` without the environment activated runs the
stages under another Python. That is one ``error:`` line naming the interpreter and the fix,
exit 1, instead of a ``ModuleNotFoundError`` halfway into a stage.
"""

import sys
from importlib.util import find_spec

# What the stages import from the environment (requirements.lock), by top-level name.
NEEDED = ("numpy", "pandas", "pyarrow", "omegaconf", "hydra", "mlflow", "matplotlib", "PIL")


def _refuse_other_interpreters() -> None:
    missing = [name for name in NEEDED if find_spec(name) is None]
    if missing:
        version = ".".join(map(str, sys.version_info[:3]))
        print(
            f"error: this stage runs under {sys.executable or 'python'} (Python {version}), "
            f"which lacks the project's packages ({', '.join(missing)}): activate its "
            "environment first (`source .venv/bin/activate`), or run the pipeline with `make run`",
            file=sys.stderr,
        )
        sys.exit(1)


_refuse_other_interpreters()
