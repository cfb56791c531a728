"""Commands run by hand, not by DVC: sweep, compare, params, original_weights, bench, bench_sweep.

Each is ``python -m pipeline.tools.<name>`` and also a console script (``neuralscratch-<name>``,
see ``pyproject.toml``).
"""
