"""The DVC stages, one module each: fetch -> prepare -> train -> evaluate, predict, plots_template.

Each is run by ``dvc.yaml`` as ``python -m pipeline.stages.<name>`` and imports no other stage:
what two stages share lives in ``pipeline/`` (see ``pipeline.data.artifacts``), so a
stage's ``deps`` in ``dvc.yaml`` is its import closure (``tests/test_stage_deps.py`` keeps it so).

Importing this package first checks the interpreter: ``dvc.yaml`` runs ``python``, whichever
comes first on PATH, so ``.venv/bin/dvc repro`` without the environment activated runs the
stages under another Python. That is one ``error:`` line naming the interpreter and the fix,
exit 1, instead of a ``ModuleNotFoundError`` halfway into a stage.
"""

from pipeline.errors import ENVIRONMENT, refuse_other_interpreters

refuse_other_interpreters(ENVIRONMENT, "stage", "run the pipeline with `make run`")
