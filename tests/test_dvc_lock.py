"""The committed ``dvc.lock`` belongs to the committed code: on a clean clone ``dvc status`` may
report outputs that are not there yet (no data has been fetched, no model trained), but never a
tracked code file or a parameter as changed. After changing code a stage runs, rerun the stage
(``dvc repro``) and commit ``dvc.lock`` and ``reports/`` with the change."""

import json
import os
import subprocess
import sys
from pathlib import Path

from pipeline.config import PROJECT_ROOT

MISSING = ("deleted", "not in cache")  # a dep or out not in the workspace, or not cached


def lock_drift(status: dict) -> list[str]:
    """Every change ``dvc status --json`` reports other than a missing file."""
    drift = []
    for stage, changes in status.items():
        for change in changes:
            if not isinstance(change, dict):  # e.g. "changed command", "always changed"
                drift.append(f"{stage}: {change}")
                continue
            for kind, files in change.items():
                for path, state in files.items() if isinstance(files, dict) else []:
                    if state not in MISSING:
                        drift.append(f"{stage}: {kind}: {path} {state}")
    return drift


def test_lock_drift_reads_dvc_status():
    status = {
        "train": [
            {"changed deps": {"pipeline/stages/train.py": "modified", "data/prepared": "deleted"}},
            {"changed outs": {"models/model.npz": "not in cache"}},
            "changed command",
        ],
        "evaluate": [{"changed deps": {"params.yaml": {"optimizer.lr": 0.1}}}],
    }
    assert lock_drift(status) == [
        "train: changed deps: pipeline/stages/train.py modified",
        "train: changed command",
        "evaluate: changed deps: params.yaml {'optimizer.lr': 0.1}",
    ]


def test_committed_lock_matches_committed_code():
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["dvc", "status", "--json"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    drift = lock_drift(json.loads(result.stdout or "{}"))
    assert not drift, (
        "dvc.lock is older than the code or params it records; rerun the stages "
        "(dvc repro) and commit dvc.lock and reports/:\n" + "\n".join(drift)
    )
