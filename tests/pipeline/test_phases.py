"""pipeline.phases: JSON lines of timed phases when NEURALSCRATCH_PHASES names a file, and nothing
at all without it."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import phases
from pipeline.config import PROJECT_ROOT, compose, to_yaml
from tests.conftest import tiny_overrides

KEYS = {"pid", "phase", "start", "seconds"}


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_without_the_variable_nothing_is_written(tmp_path, monkeypatch, value):
    monkeypatch.chdir(tmp_path)
    if value is None:
        monkeypatch.delenv(phases.ENV, raising=False)
    else:
        monkeypatch.setenv(phases.ENV, value)
    opened = []
    monkeypatch.setattr(Path, "open", lambda *args, **kwargs: opened.append(args))
    with phases.timed("figures"):
        pass
    phases.process_started()
    phases.process_ended()
    assert opened == [] and list(tmp_path.iterdir()) == []


def test_timed_blocks_append_one_line_each(tmp_path, monkeypatch):
    path = tmp_path / "phases.jsonl"
    path.write_text(json.dumps({"pid": 1, "phase": "earlier", "start": 0.0, "seconds": 0.0}) + "\n")
    monkeypatch.setenv(phases.ENV, str(path))
    before = time.time()
    with phases.timed("figures"):
        time.sleep(0.05)
    with pytest.raises(ValueError), phases.timed("writing outputs"):  # a failing block counts too
        raise ValueError
    after = time.time()

    earlier, figures, writing = lines(path)
    assert earlier["phase"] == "earlier"  # appended, not overwritten
    for line in (figures, writing):
        assert set(line) == KEYS and line["pid"] == os.getpid()
    assert (figures["phase"], writing["phase"]) == ("figures", "writing outputs")
    assert before <= figures["start"] <= figures["start"] + figures["seconds"] <= writing["start"]
    assert writing["start"] + writing["seconds"] <= after
    assert figures["seconds"] >= 0.05  # it slept that long; no upper bound: machines stall


def test_process_started_and_ended(tmp_path, monkeypatch):
    path = tmp_path / "phases.jsonl"
    monkeypatch.setenv(phases.ENV, str(path))
    phases.process_started()
    phases.process_ended()
    started, ended = lines(path)
    assert started["phase"] == phases.STARTED == "start and imports"
    assert started["start"] == pytest.approx(phases.creation_time(), abs=0.05)
    assert started["seconds"] >= 0 and started["start"] + started["seconds"] <= time.time()
    assert ended["phase"] == phases.ENDED == "end" and ended["seconds"] == 0.0
    assert started["start"] + started["seconds"] <= ended["start"] <= time.time()


def test_creation_time_of_a_fresh_process():
    """A new interpreter was created after we started it and before it printed."""
    code = "import time; from pipeline import phases; print(phases.creation_time(), time.time())"
    launched = time.time()
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    created, now = map(float, result.stdout.split())
    clock_tick = 1 / os.sysconf("SC_CLK_TCK")  # /proc counts in ticks
    assert launched - 2 * clock_tick <= created <= now


def test_a_stage_records_its_start_and_its_end(tmp_path, small_csvs):
    (tmp_path / "params.yaml").write_text(to_yaml(compose(tiny_overrides(tmp_path, small_csvs))))
    path = tmp_path / "phases.jsonl"
    env = {**os.environ, phases.ENV: str(path)}
    launched = time.time()
    process = subprocess.run(
        [sys.executable, "-m", "pipeline.stages.prepare"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    finished = time.time()
    assert process.returncode == 0, process.stderr
    records = lines(path)
    assert {r["pid"] for r in records} == {records[0]["pid"]}  # the stage's own process
    assert records[0]["pid"] != os.getpid()
    assert all(set(r) == KEYS for r in records)
    started, ended = records[0], records[-1]
    assert (started["phase"], ended["phase"]) == ("start and imports", "end")
    assert launched - 0.05 <= started["start"] and started["seconds"] > 0.05  # imports take time
    assert started["start"] + started["seconds"] <= ended["start"] <= finished
