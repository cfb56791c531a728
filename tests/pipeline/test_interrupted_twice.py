"""A second SIGTERM while the run is being marked KILLED (SLURM sends two at a job's time limit
or ``scancel``: srun forwards one to a task that slurmstepd signals too) is dropped: the run
ends KILLED, not RUNNING forever with its ``error`` tag set, and the process exits 130."""

import os
import signal

import pytest

from pipeline import cli, tracking
from pipeline.config import compose, validate
from tests.conftest import tiny_overrides


@pytest.fixture
def handlers_restored():
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)
    cli.INTERRUPTED.clear()


def test_a_second_sigterm_while_marking_the_run_killed_is_dropped(
    tmp_path, small_csvs, monkeypatch, handlers_restored
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    cfg = validate(compose(tiny_overrides(tmp_path, small_csvs)))
    run = tracking.start_run(cfg, "signalled twice")
    store_set_tag = run.client.set_tag
    signals_sent = []

    def set_tag_while_signalled(*args, **kwargs):
        if not signals_sent:  # the second signal lands in the middle of the first store call
            signals_sent.append(signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGTERM)
        return store_set_tag(*args, **kwargs)

    with pytest.raises(SystemExit) as exited, cli.user_errors_exit(), tracking.run_status(run):
        run.client.set_tag = set_tag_while_signalled
        raise KeyboardInterrupt("SIGTERM")  # the first signal, as the handler raises it

    assert exited.value.code == 130
    assert signals_sent == [signal.SIGTERM]
    ended = tracking.client_for(tracking.tracking_uri()).get_run(run.run_id)
    assert ended.info.status == "KILLED"
    assert ended.data.tags["error"] == "interrupted"
