"""How a sweep's parent run ends: with a status that says what became of its jobs.

The parent is FINISHED only when the sweep ran to its end and no job failed or was killed;
FAILED when a job failed (diverged) or the sweep itself stopped on an error (a job the
scheduler ended without a result makes Hydra's launcher raise); KILLED when a job was killed
(``scancel``, its time limit) or the sweep process was interrupted (Ctrl-C, SIGTERM). Tags
``sweep.jobs.finished|failed|killed|running`` count the child runs by status (``running``:
jobs still going, or whose end never reached the server), and ``error`` says why it is not
FINISHED."""

from collections import Counter

from pipeline.tracking import Run

STATUSES = ("FINISHED", "FAILED", "KILLED", "RUNNING")


def child_statuses(run: Run) -> Counter[str]:
    """The status of every child run of ``run``, counted."""
    counts: Counter[str] = Counter()
    token = None
    while True:
        page = run.client.search_runs(
            [run.experiment_id],
            filter_string=f"tags.`mlflow.parentRunId` = '{run.run_id}'",
            max_results=1000,
            page_token=token,
        )
        counts.update(child.info.status for child in page)
        token = page.token
        if not token:
            return counts


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
    counts = child_statuses(run)
    status, error = parent_status(counts, completed, interrupted)
    tags = {f"sweep.jobs.{name.lower()}": str(counts[name]) for name in STATUSES}
    run.set_tags(tags | ({"error": error} if error else {}))
    run.end(status)
    return status
