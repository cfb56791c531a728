"""Regenerate ``params.yaml`` from ``conf/`` (what ``dvc exp run`` does before each run).

python -m pipeline.params                     # conf/ defaults -> params.yaml
python -m pipeline.params experiment=seed     # with Hydra overrides
python -m pipeline.params --check             # exit 1 if params.yaml differs from conf/
"""

import argparse
import sys
from pathlib import Path

from pipeline.cli import run_stage
from pipeline.config import PARAMS_FILE, PROJECT_ROOT, compose, to_yaml, validate
from pipeline.io import write_text


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.params",
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
            sys.exit(
                f"{path} differs from conf/: run `python -m pipeline.params` (or `make params`)"
            )
        print(f"{path} matches conf/")
        return
    write_text(path, text)
    print(f"wrote {Path(PARAMS_FILE)} from conf/ {' '.join(args.overrides)}".rstrip())


if __name__ == "__main__":
    run_stage(main)
