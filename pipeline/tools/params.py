"""Regenerate ``params.yaml`` from ``conf/`` (what ``dvc exp run`` does before each run).

python -m pipeline.tools.params                     # conf/ defaults -> params.yaml
python -m pipeline.tools.params experiment=seed     # with Hydra overrides
python -m pipeline.tools.params --check             # exit 1 if params.yaml differs from conf/
"""

import argparse
from pathlib import Path

from pipeline.cli import run_stage
from pipeline.config import PARAMS_FILE, PROJECT_ROOT, compose, to_yaml, validate
from pipeline.errors import PipelineError
from pipeline.io import write_text


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.tools.params",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. optimizer.lr=0.01")
    parser.add_argument(
        "--check",
        action="store_true",
        help="only compare params.yaml with the composition of conf/",
    )
    args = parser.parse_args()
    composed = compose(args.overrides)
    text = to_yaml(composed)
    validate(composed)
    path = PROJECT_ROOT / PARAMS_FILE
    if args.check:
        current = path.read_text() if path.exists() else ""
        if current != text:
            raise PipelineError(
                f"{path}: differs from conf/: run `make params` (or `neuralscratch-params`)"
            )
        print(f"{path} matches conf/")
        return
    write_text(path, text)
    print(f"wrote {Path(PARAMS_FILE)} from conf/ {' '.join(args.overrides)}".rstrip())


def run() -> None:
    """The console script (see pyproject.toml): errors as one line, exit codes as documented."""
    run_stage(main)


if __name__ == "__main__":
    run()
