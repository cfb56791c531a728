"""A sweep's jobs as SLURM sees them. Each job's run carries its SLURM id (tag
``slurm.job_id``: ``5_0`` for task 0 of array 5), so that the sweep, ending early, can tell a
job SLURM is still ending (SIGTERM sent, its run about to end KILLED) from one that runs on or
is gone."""

import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from typing import Any

from pipeline.tools import launchers

TAG = "slurm.job_id"
# How often a sweep asks sacct about its jobs. submitit's own interval grows with the time since
# the last submission, up to 10 minutes: a job cancelled an hour in stopped the sweep up to 10
# minutes later.
SACCT_POLL_SECONDS = 10
ENDING = "COMPLETING"  # squeue's state of a job between SIGTERM and the end of its processes
SQUEUE_TIMEOUT_SECONDS = 30


def poll_sacct_often(launcher: Mapping[str, Any] | None) -> None:
    """Make submitit ask sacct at least every ``SACCT_POLL_SECONDS`` when the sweep's launcher
    is SLURM's (submitit keeps one watcher, and its interval, for every SLURM job)."""
    if not launchers.is_slurm(launcher):
        return
    from submitit.slurm.slurm import SlurmJob

    SlurmJob.watcher._delay_s = SACCT_POLL_SECONDS  # submitit's own setting, 600 by default


def job_tags() -> dict[str, str]:
    """The tag naming the SLURM job this process runs in; none outside SLURM."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return {TAG: f"{array}_{task}"}
    job = os.environ.get("SLURM_JOB_ID")
    return {TAG: job} if job else {}


def queue_states(job_ids: Iterable[str]) -> dict[str, str] | None:
    """SLURM's state (``RUNNING``, ``COMPLETING``...) of each of these jobs still in its queue;
    jobs that left it are not in the answer. None when ``squeue`` is missing or fails."""
    ids = sorted(set(job_ids))
    if not ids or shutil.which("squeue") is None:
        return None
    command = ["squeue", "--noheader", "--format=%i %T", f"--jobs={','.join(ids)}"]
    try:
        shown = subprocess.run(
            command, capture_output=True, text=True, timeout=SQUEUE_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if shown.returncode != 0:
        # every id unknown to SLURM (gone from its queue) makes squeue exit 1
        return {} if "Invalid job id" in shown.stderr else None
    return dict(line.split(maxsplit=1) for line in shown.stdout.splitlines() if line.strip())
