"""Stage ``check_params``: every key of ``params.yaml`` is one the configuration knows.

The other stages each list only the keys they read, so DVC skips them when a key nobody reads
changes: ``dvc exp run -S +optimzer.lr=0.01`` (a typo, added with ``+`` as DVC's own error
suggests) wrote ``optimzer: {lr: 0.01}`` and ended "cached - skipping run" with exit 0, the
learner believing they trained with lr 0.01. This stage depends on the whole file, so any edit
runs it, and an unknown key is one ``error:`` line naming it and the nearest valid key.

It writes ``paths.checked``, always the same line, and ``fetch`` and ``prepare`` depend on that file
(``prepare`` reads ``data.train_csv``, which need not be fetch's): so every stage that trains or
evaluates is downstream of this one, and ``dvc repro train`` or ``dvc exp run train -S ...``
(one stage and what it needs) checks the file too. The line never changes, so a successful
check leaves the stages after it cached.
"""

from pipeline.cli import run_stage
from pipeline.config import PARAMS_FILE, load_params
from pipeline.io import write_text


def main() -> None:
    cfg = load_params()
    write_text(cfg.paths.checked, f"every key of {PARAMS_FILE} is one the configuration knows\n")
    print(f"check_params: every key of {PARAMS_FILE} is known")


if __name__ == "__main__":
    run_stage(main, takes_arguments=False)
