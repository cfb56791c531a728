"""The DVC stages, one module each: fetch -> prepare -> train -> evaluate, predict, plots_template.

Each is run by ``dvc.yaml`` as ``python -m pipeline.stages.<name>`` and imports no other stage:
what two stages share lives in ``pipeline/`` (see ``pipeline.artifacts``), so a stage's ``deps``
in ``dvc.yaml`` is its import closure (``tests/test_stage_deps.py`` keeps it so).
"""
