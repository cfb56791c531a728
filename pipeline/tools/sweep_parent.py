"""How a sweep's parent run ends: with a status that says what became of its jobs.

The parent is FINISHED only when the sweep ran to its end and no job failed or was killed;
FAILED when a job failed (diverged) or the sweep itself stopped on an error (a job the
scheduler ended without a result makes Hydra's launcher raise); KILLED when a job was killed
(``scancel``, its time limit) or the sweep process was interrupted (Ctrl-C, SIGTERM). Tags
``sweep.jobs.finished|failed|killed|running`` count the child runs by status (``running``:
jobs still going, or whose end never reached the server), and ``error`` says why it is not
FINISHED.

A sweep that ends early does so as soon as the launcher learns that a job ended without a
result, which for a job SLURM cancelled or timed out is when SLURM sent it SIGTERM: the
training may still be ending its run KILLED (it has ``KillWait`` seconds). The parent waits
for such jobs, and only for them, before it counts."""

import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from pipeline.tools import slurm_jobs
from pipeline.tracking.mlflow_runs import Run

if TYPE_CHECKING:  # MLflow is imported when a run starts, not with the sweep
    from mlflow.entities import Run as RunRecord

STATUSES = ("FINISHED", "FAILED", "KILLED", "RUNNING")
ENDING_JOBS_POLLS = 120  # one a second: more than SLURM's KillWait (30 s by default)


def child_runs(run: Run) -> list["RunRecord"]:
    """Every child run of ``run``."""
    children: list[RunRecord] = []
    token = None
    while True:
        page = run.client.search_runs(
            [run.experiment_id],
            filter_string=f"tags.`mlflow.parentRunId` = '{run.run_id}'",
            max_results=1000,
            page_token=token,
        )
        children.extend(page)
        token = page.token
        if not token:
            return children


def ending_jobs(children: list["RunRecord"], queue_states: Callable) -> list[str]:
    """The SLURM ids of RUNNING children whose jobs SLURM is ending."""
    running = [
        child.data.tags[slurm_jobs.TAG]
        for child in children
        if child.info.status == "RUNNING" and slurm_jobs.TAG in child.data.tags
    ]
    states = queue_states(running) if running else None
    return [job for job in running if (states or {}).get(job) == slurm_jobs.ENDING]


def settled_children(
    fetch: Callable[[], list["RunRecord"]],
    queue_states: Callable = slurm_jobs.queue_states,
    polls: int = ENDING_JOBS_POLLS,
    sleep: Callable[[float], None] = time.sleep,
) -> list["RunRecord"]:
    """The child runs once no job among the RUNNING ones is being ended by SLURM (or after
    ``polls`` seconds): a job that runs on, or is gone, is not waited for."""
    children = fetch()
    for _ in range(polls):
        if not ending_jobs(children, queue_states):
            break
        sleep(1)
        children = fetch()
    return children


def parent_status(counts: Counter[str], completed: bool, interrupted: bool) -> tuple[str, str]:
    """The parent's status and, unless FINISHED, why (its ``error`` tag)."""
    total = sum(counts.values())
    if interrupted:
        return "KILLED", "interrupted"
    if counts["KILLED"]:
        return "KILLED", f"{counts['KILLED']} of {total} jobs KILLED"
    if counts["FAILED"]:
        return "FAILED", f"{counts['FAILED']} of {total} jobs FAILED"
    if not completed:
        return "FAILED", "the sweep stopped on an error before its end"
    return "FINISHED", ""


def end_parent(run: Run, completed: bool, interrupted: bool) -> str:
    """End the parent run as its children ended; returns its status."""
    children = child_runs(run) if completed else settled_children(lambda: child_runs(run))
    counts = Counter(child.info.status for child in children)
    status, error = parent_status(counts, completed, interrupted)
    tags = {f"sweep.jobs.{name.lower()}": str(counts[name]) for name in STATUSES}
    run.set_tags(tags | ({"error": error} if error else {}))
    run.end(status)
    return status
