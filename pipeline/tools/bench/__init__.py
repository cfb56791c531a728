"""``make bench``: scratchnn's speed against this machine's matrix-product floor.

Run as ``python -m pipeline.tools.bench`` (see ``__main__``); the parts: ``machine``, ``floor``,
``epochs``, ``stages``, ``report``.
"""
