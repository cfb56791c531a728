"""The error a user can fix: bad input or bad configuration. Every entry point prints it as one
``error: ...`` line (see ``pipeline.cli``), never a traceback."""


class PipelineError(Exception):
    """An error a user can fix (bad input, bad configuration); printed without a traceback."""
