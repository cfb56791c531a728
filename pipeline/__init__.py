"""The pipeline around scratchnn.

``stages/`` holds the DVC stage entry points (``python -m pipeline.stages.<name>``), ``tools/``
the commands people run by hand (sweep, compare, params, bench, ...). The modules here are what
both share: configuration, atomic writes, error handling, the artifacts between stages, the CSV
reader, tracking, checkpoints and figures. No stage imports another stage.
"""
