"""What squeue says of a sweep's jobs, asked of the real SLURM: an array task running, then
being ended (COMPLETING while it handles SIGTERM), then gone; unknown ids are gone too."""

import os
import subprocess
import time

from pipeline.tools import slurm_jobs
from tests.cluster.conftest import client_env

# ends 6 s after SIGTERM, as a training ends its run before it exits
JOB = """#!/bin/bash
trap 'sleep 6; exit 0' TERM
while true; do sleep 0.2; done
"""


def states_until(jobs: list[str], done, timeout: float = 60) -> dict[str, str] | None:
    deadline = time.monotonic() + timeout
    while True:
        states = slurm_jobs.queue_states(jobs)
        if done(states) or time.monotonic() > deadline:
            return states
        time.sleep(0.2)


def test_squeue_tells_a_running_job_from_one_being_ended_and_one_gone(
    slurm_cluster, tmp_path, monkeypatch
):
    for name, value in client_env(slurm_cluster).items():
        if os.environ.get(name) != value:
            monkeypatch.setenv(name, value)
    script = tmp_path / "job.sh"
    script.write_text(JOB)
    submitted = subprocess.run(
        ["sbatch", "--parsable", "--array=0-1", "-o", "/dev/null", "-p", "debug", str(script)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    ending, staying = f"{submitted}_0", f"{submitted}_1"
    try:
        both = [ending, staying]
        running = states_until(both, lambda s: s == {ending: "RUNNING", staying: "RUNNING"})
        assert running == {ending: "RUNNING", staying: "RUNNING"}
        subprocess.run(["scancel", ending], check=True)
        assert states_until(both, lambda s: s and s.get(ending) == "COMPLETING") == {
            ending: "COMPLETING",
            staying: "RUNNING",
        }
        assert states_until(both, lambda s: s == {staying: "RUNNING"}) == {staying: "RUNNING"}
        assert slurm_jobs.queue_states([ending]) == {}
        assert slurm_jobs.queue_states(["999999_0"]) == {}
    finally:
        subprocess.run(["scancel", submitted], check=False)
