"""The pipeline around scratchnn: stages (fetch, prepare, train, evaluate) and their glue."""
