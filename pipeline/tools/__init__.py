"""Commands run by hand, not by DVC: sweep, compare, params, original_weights, bench, bench_sweep.

Each is ``python -m pipeline.tools.<name>`` and also a console script (``neuralscratch-<name>``,
see ``pyproject.toml``). Importing this package first checks the interpreter, as the stages do
(``pipeline.stages``): under a Python without the project's packages, one ``error:`` line.
"""

from pipeline.errors import ENVIRONMENT, refuse_other_interpreters

refuse_other_interpreters((*ENVIRONMENT, "joblib"), "tool", "run it with `.venv/bin/python -m ...`")
