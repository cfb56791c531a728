"""A joblib sweep's worker processes, ready when the first job is dispatched.

Hydra's joblib launcher runs the jobs with ``joblib.Parallel(**hydra.launcher)`` on loky's
reusable executor, and a later ``Parallel`` with the same settings reuses the workers of an
earlier one (joblib's documented behaviour). So, while the sweep process creates its parent run
(about a second: MLflow's import and its store), ``warm_up`` has the same ``Parallel`` start
the workers, each importing the job's modules and opening the tracking store; the launcher
then finds them ready, instead of starting them only after the parent run exists. Only when
every worker will get a job: with fewer jobs at once than workers, loky picks which workers run
them, and the prepared ones may stay idle.

The end of a sweep is left to joblib: stopping the idle workers without their interpreter's
teardown (loky's ``kill_workers``) and skipping the sweep process's own (``os._exit``) saved
1.3 s, but once in three CI runs loky's resource tracker then warned of a leaked semaphore.
"""

import contextlib
import os
import warnings
from collections.abc import Generator, Iterator
from typing import Any

from omegaconf import DictConfig, OmegaConf

from pipeline import phases
from pipeline.tools import launchers

PREPARING = "preparing a joblib worker"  # its phase, for ``make bench-loop``


def parallel_settings(launcher: DictConfig) -> dict[str, Any]:
    """The keyword arguments Hydra's launcher gives ``joblib.Parallel`` (its ``_core.launch``)."""
    from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg

    settings = OmegaConf.to_container(launcher, resolve=True)
    assert isinstance(settings, dict)
    settings = {str(key): value for key, value in settings.items() if key != "_target_"}
    settings["backend"] = "loky"  # what the launcher sets, whatever the configuration says
    process_joblib_cfg(settings)
    return settings


def prepare_worker(tracking_on: bool) -> int:
    """In a worker: import what a job imports and open the tracking store (a job opens it
    again from MLflow's cache). A failure is left for the job itself to report: the job meets
    the same error."""
    with phases.timed(PREPARING), contextlib.suppress(Exception):
        import pipeline.tools.sweep_job  # noqa: F401  (what a job runs: Hydra, pandas, stages)

        if tracking_on:
            import mlflow  # noqa: F401

            from pipeline.tracking import mlflow_runs

            uri = mlflow_runs.tracking_uri()
            if mlflow_runs.is_local_store(uri):  # a server, or a database, the job opens itself
                mlflow_runs.client_for(uri)
    return os.getpid()


def jobs_at_once(hydra: DictConfig) -> int | None:
    """The most jobs the sweeper hands the launcher at once (``hydra``: the configuration's
    ``hydra`` node): the largest batch Hydra's basic sweeper makes of the overrides (with its
    own ``split_arguments``), or a batch of trials of a sweeper with ``n_jobs`` (Optuna's);
    None when it cannot be told."""
    sweeper = hydra.sweeper
    if launchers.is_basic_sweeper(sweeper):
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser

        params = [f"{key}={value}" for key, value in (sweeper.get("params") or {}).items()]
        try:
            overrides = OverridesParser.create().parse_overrides([*params, *hydra.overrides.task])
            batches = BasicSweeper.split_arguments(overrides, sweeper.get("max_batch_size"))
        except Exception:  # a sweep the basic sweeper refuses: it says so itself
            return None
        return max(len(batch) for batch in batches)
    trials = sweeper.get("n_jobs")
    return trials if isinstance(trials, int) and trials > 0 else None


def warm_up(
    launcher: DictConfig, tracking_on: bool, jobs: int | None = None
) -> Generator[int, None, None] | None:
    """Start the joblib launcher's workers, each preparing itself; None for another launcher,
    or when fewer ``jobs`` are launched at once than there are workers: some workers would
    then get no job, and which ones is loky's choice (a job can land on a worker that did not
    prepare), so preparing them would only take CPU from the ones that do."""
    if not launchers.is_joblib(launcher):
        return None
    import joblib

    settings = parallel_settings(launcher)
    workers = joblib.effective_n_jobs(settings.get("n_jobs", -1))
    if jobs is not None and jobs < workers:
        return None
    parallel = joblib.Parallel(**settings, return_as="generator_unordered")
    return parallel(joblib.delayed(prepare_worker)(tracking_on) for _ in range(workers))


@contextlib.contextmanager
def warming(hydra: DictConfig, tracking_on: bool) -> Iterator[None]:
    """The block runs while the sweep's workers prepare (``warm_up``; ``hydra``: the
    configuration's ``hydra`` node); after it, wait until they are ready. An error or an
    interrupt, in the block or in the wait, cancels the preparation without a word (joblib warns
    that tasks were cancelled): the error, or ``interrupted``, is what the user needs to read."""
    started = warm_up(hydra.launcher, tracking_on, jobs_at_once(hydra))
    try:
        yield
        if started is not None:
            list(started)
    except BaseException:
        if started is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                started.close()
        raise
