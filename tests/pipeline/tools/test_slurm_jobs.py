"""A sweep that ends early waits for the jobs SLURM is still ending, and only for them, before
its parent counts the child runs (``sweep_parent.settled_children``); each job's run names its
SLURM job (``slurm_jobs.job_tags``). squeue itself is asked in
``tests/cluster/test_slurm_queue.py``."""

from types import SimpleNamespace

import pytest

from pipeline.tools import slurm_jobs
from pipeline.tools.sweep_parent import ENDING_JOBS_POLLS, settled_children
from tests.conftest import hydra_config


def child(status: str, job: str | None) -> SimpleNamespace:
    tags = {slurm_jobs.TAG: job} if job else {}
    return SimpleNamespace(info=SimpleNamespace(status=status), data=SimpleNamespace(tags=tags))


class Sweep:
    """Child runs as the server shows them on each look, and SLURM's queue on each look."""

    def __init__(self, looks: list[list[SimpleNamespace]], queue: list[dict[str, str] | None]):
        self.looks, self.queue = looks, queue
        self.fetched = self.asked = self.slept = 0
        self.asked_for: list[list[str]] = []

    def fetch(self) -> list[SimpleNamespace]:
        self.fetched += 1
        return self.looks[min(self.fetched, len(self.looks)) - 1]

    def queue_states(self, jobs: list[str]) -> dict[str, str] | None:
        self.asked += 1
        self.asked_for.append(sorted(jobs))
        return self.queue[min(self.asked, len(self.queue)) - 1]

    def sleep(self, seconds: float) -> None:
        self.slept += 1

    def settle(self, polls: int = 120) -> list[SimpleNamespace]:
        return settled_children(self.fetch, self.queue_states, polls=polls, sleep=self.sleep)


def statuses(children: list[SimpleNamespace]) -> list[str]:
    return [c.info.status for c in children]


def test_a_job_slurm_is_ending_is_waited_for_until_its_run_ends():
    sweep = Sweep(
        looks=[
            [child("KILLED", "5_0"), child("RUNNING", "5_1")],
            [child("KILLED", "5_0"), child("RUNNING", "5_1")],
            [child("KILLED", "5_0"), child("KILLED", "5_1")],
        ],
        queue=[{"5_1": "COMPLETING"}],
    )
    assert statuses(sweep.settle()) == ["KILLED", "KILLED"]
    assert (sweep.fetched, sweep.slept) == (3, 2)
    assert sweep.asked_for[0] == ["5_1"]  # only the RUNNING child's job


def test_the_wait_ends_when_slurm_is_done_with_the_job_even_if_its_run_never_ended():
    """SIGKILL after KillWait: the job leaves the queue, its run stays RUNNING, and the parent
    counts it as running rather than wait on."""
    running = [child("RUNNING", "5_0")]
    sweep = Sweep(looks=[running], queue=[{"5_0": "COMPLETING"}, {"5_0": "COMPLETING"}, {}])
    assert statuses(sweep.settle()) == ["RUNNING"]
    assert sweep.slept == 2


@pytest.mark.parametrize(
    "queue",
    [{"5_0": "RUNNING"}, {"5_0": "PENDING"}, {}, None],
    ids=["still running", "pending", "gone", "squeue failed"],
)
def test_jobs_that_run_on_are_gone_or_unknown_are_not_waited_for(queue):
    sweep = Sweep(looks=[[child("RUNNING", "5_0"), child("KILLED", "5_1")]], queue=[queue])
    assert statuses(sweep.settle()) == ["RUNNING", "KILLED"]
    assert sweep.slept == 0


def test_runs_that_ended_or_ran_outside_slurm_ask_nothing():
    sweep = Sweep(looks=[[child("FINISHED", "5_0"), child("RUNNING", None)]], queue=[None])
    sweep.settle()
    assert (sweep.asked, sweep.slept) == (0, 0)


def test_the_wait_is_bounded():
    sweep = Sweep(looks=[[child("RUNNING", "5_0")]], queue=[{"5_0": "COMPLETING"}])
    assert statuses(sweep.settle(polls=5)) == ["RUNNING"]
    assert sweep.slept == 5
    assert ENDING_JOBS_POLLS > 30  # seconds: more than SLURM's default KillWait


@pytest.mark.parametrize(
    "env, tags",
    [
        (
            {"SLURM_JOB_ID": "7", "SLURM_ARRAY_JOB_ID": "5", "SLURM_ARRAY_TASK_ID": "1"},
            {"slurm.job_id": "5_1"},
        ),
        ({"SLURM_JOB_ID": "7"}, {"slurm.job_id": "7"}),
        ({}, {}),
    ],
    ids=["array task", "single job", "outside SLURM"],
)  # fmt: skip
def test_a_jobs_run_is_tagged_with_its_slurm_id(monkeypatch, env, tags):
    for name in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert slurm_jobs.job_tags() == tags


def launcher_node(launcher: str):
    return hydra_config(f"hydra/launcher={launcher}").hydra.launcher


def test_a_slurm_sweep_asks_sacct_every_10_s_and_other_launchers_leave_submitit_alone(
    monkeypatch,
):
    """submitit's interval between two sacct calls grows to 10 minutes: the sweep would learn
    that a job was cancelled or timed out that much later."""
    from submitit.slurm.slurm import SlurmJob

    monkeypatch.setattr(SlurmJob.watcher, "_delay_s", 600)
    for launcher in ("basic", "joblib", "submitit_local"):
        slurm_jobs.poll_sacct_often(launcher_node(launcher))
        assert SlurmJob.watcher._delay_s == 600, launcher
    slurm_jobs.poll_sacct_often(launcher_node("submitit_slurm"))
    assert SlurmJob.watcher._delay_s == slurm_jobs.SACCT_POLL_SECONDS == 10
