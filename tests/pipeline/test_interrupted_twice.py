"""One interrupt delivered twice (SLURM signals a task at its time limit or ``scancel`` through
slurmstepd and through srun) marks the run KILLED, not RUNNING forever with its ``error`` tag
set, and the process exits 130; a Ctrl-C seconds later still interrupts."""

import os
import signal

import pytest

from pipeline import cli
from pipeline.config import compose, validate
from pipeline.tracking import mlflow_runs
from tests.conftest import tiny_overrides


@pytest.fixture
def handlers_restored():
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)
    cli.INTERRUPTED.clear()


@pytest.fixture
def run(tmp_path, small_csvs, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return mlflow_runs.start_run(validate(compose(tiny_overrides(tmp_path, small_csvs))), "signals")


def signal_during_the_first_store_call(run, monkeypatch, seconds_later: float = 0.0) -> list:
    """SIGTERM again in the middle of the first store call that marks the run ended, as if
    ``seconds_later`` after the first."""
    store_set_tag, sent = run.client.set_tag, []

    def set_tag_while_signalled(*args, **kwargs):
        if not sent:
            sent.append(signal.SIGTERM)
            if seconds_later:
                monkeypatch.setitem(cli._shield, "first", cli._shield["first"] - seconds_later)
            os.kill(os.getpid(), signal.SIGTERM)
        return store_set_tag(*args, **kwargs)

    monkeypatch.setattr(run.client, "set_tag", set_tag_while_signalled)
    return sent


def test_a_sigterm_delivered_twice_still_marks_the_run_killed(run, monkeypatch, handlers_restored):
    sent = signal_during_the_first_store_call(run, monkeypatch)
    with pytest.raises(SystemExit) as exited, cli.user_errors_exit(), mlflow_runs.run_status(run):
        os.kill(os.getpid(), signal.SIGTERM)  # the first: the handler raises KeyboardInterrupt
    assert exited.value.code == 130 and sent == [signal.SIGTERM]
    ended = mlflow_runs.client_for(mlflow_runs.tracking_uri()).get_run(run.run_id)
    assert ended.info.status == "KILLED"
    assert ended.data.tags["error"] == "interrupted"


def test_a_ctrl_c_seconds_after_the_first_still_interrupts(run, monkeypatch, handlers_restored):
    """A user who will not wait for a slow store: the second signal, later than the window,
    stops the marking after the store call it lands in (the run keeps what reached the store)."""
    later = cli.REPEATED_WITHIN_SECONDS + 1
    sent = signal_during_the_first_store_call(run, monkeypatch, seconds_later=later)
    with pytest.raises(SystemExit) as exited, cli.user_errors_exit(), mlflow_runs.run_status(run):
        os.kill(os.getpid(), signal.SIGTERM)
    assert exited.value.code == 130 and sent == [signal.SIGTERM]
    ended = mlflow_runs.client_for(mlflow_runs.tracking_uri()).get_run(run.run_id)
    assert ended.info.status == "RUNNING"  # cut short: the user's choice
    assert ended.data.tags["error"] == "interrupted"
