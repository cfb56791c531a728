"""Stage ``check_params``: every key of ``params.yaml`` is one the configuration knows.

The other stages each list only the keys they read, so DVC skips them when a key nobody reads
changes: ``dvc exp run -S +optimzer.lr=0.01`` (a typo, added with ``+`` as DVC's own error
suggests) wrote ``optimzer: {lr: 0.01}`` and ended "cached - skipping run" with exit 0, the
learner believing they trained with lr 0.01. This stage depends on the whole file, so any edit
runs it, and an unknown key is one ``error:`` line naming it and the nearest valid key.
"""

from pipeline.cli import run_stage
from pipeline.config import PARAMS_FILE, load_params


def main() -> None:
    load_params()
    print(f"check_params: every key of {PARAMS_FILE} is known")


if __name__ == "__main__":
    run_stage(main, takes_arguments=False)
