"""Ctrl-C/SIGTERM, then the same training again: it resumes, and its MLflow run ends clean."""

import signal

from tests.pipeline.test_faults import csvs, only_run, project, train_to_the_end, train_until_epoch

__all__ = ["csvs"]  # the fixture, used by name


def test_a_run_resumed_after_sigterm_ends_finished_without_the_interrupted_tag(tmp_path, csvs):
    folder = project(tmp_path / "p", csvs)
    interrupted = train_until_epoch(folder, 3, signal.SIGTERM)
    assert interrupted.returncode == 130, interrupted.stderr
    _, run = only_run(folder)
    assert run.info.status == "KILLED" and run.data.tags["error"] == "interrupted"

    resumed = train_to_the_end(folder)
    assert "resuming after epoch" in resumed.stdout
    _, run = only_run(folder)  # the same run, not a second one
    assert run.info.status == "FINISHED"
    assert "error" not in run.data.tags
