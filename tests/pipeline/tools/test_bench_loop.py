"""make bench-loop's plumbing: the breakdown of one experiment's seconds, on records written by
hand, and the scratch copy of a tiny git repository. No dvc, no training."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import phases
from pipeline.errors import PipelineError
from pipeline.tools import bench_loop

TRAIN, EVALUATE, HELPER = 101, 202, 303


def record(pid: int, phase: str, start: float, seconds: float) -> dict:
    return {"pid": pid, "phase": phase, "start": start, "seconds": seconds}


# One experiment: train (pid 101, alive 0 -> 5 s), evaluate (202, 6 -> 8 s) and evaluate's
# logging process (303), which runs beside it. Epochs by their own clocks: 2.4 s of the 3.0 s loop,
# which also holds 0.3 s of epoch logging and 0.1 s of checkpoints.
RECORDS = [
    record(TRAIN, "start and imports", 0.0, 1.0),
    record(TRAIN, "tracking: starting the run", 1.0, 0.5),
    record(TRAIN, "data loading", 1.5, 0.2),
    record(TRAIN, "epochs", 1.7, 3.0),
    record(TRAIN, "tracking: logging epochs", 2.0, 0.3),
    record(TRAIN, "checkpoints", 2.5, 0.1),
    record(TRAIN, "writing outputs", 4.7, 0.2),
    record(TRAIN, "end", 5.0, 0.0),
    record(EVALUATE, "start and imports", 6.0, 1.0),
    record(EVALUATE, "data loading", 7.0, 0.1),
    record(EVALUATE, "figures", 7.1, 0.5),
    record(EVALUATE, "writing outputs", 7.6, 0.1),
    record(EVALUATE, "tracking: waiting for the logging process", 7.7, 0.1),
    record(EVALUATE, "end", 8.0, 0.0),
    record(HELPER, "start and imports", 6.05, 0.9),
    record(HELPER, "tracking: opening the store (logging process)", 6.95, 2.0),
    record(HELPER, "tracking: logging the evaluation (logging process)", 8.95, 0.5),
    record(HELPER, "end", 9.45, 0.0),
]
WALL, EPOCHS = 10.0, 2.4
PARTS = (*bench_loop.CATEGORIES, "epochs loop, besides the epochs", "other, in the stages", "dvc")


def test_breakdown_by_hand_sums_to_the_wall_time():
    result = bench_loop.breakdown(RECORDS, WALL, EPOCHS)
    expected = {
        "wall": 10.0,
        "epochs": 2.4,
        "overhead": 7.6,
        "start and imports": 2.0,  # train's and evaluate's, not the logging process's
        "tracking": 0.9,  # 0.5 starting + 0.3 epoch logging (inside the loop) + 0.1 waiting
        "data loading": 0.3,
        "figures": 0.5,
        "writing outputs": 0.3,
        "checkpoints": 0.1,
        "epochs loop, besides the epochs": 0.2,  # 3.0 - 2.4 - (0.3 + 0.1)
        "other, in the stages": 0.3,  # train: 5.0 - 4.9 covered; evaluate: 2.0 - 1.8
        "dvc": 3.0,  # 10 s less the stages' 5 + 2 s of life
    }
    assert result.keys() == expected.keys()
    assert result == pytest.approx(expected)
    assert sum(result[part] for part in PARTS) + result["epochs"] == pytest.approx(WALL)


def test_breakdown_leaves_the_logging_process_out():
    without_helper = [r for r in RECORDS if r["pid"] != HELPER]
    assert bench_loop.breakdown(RECORDS, WALL, EPOCHS) == pytest.approx(
        bench_loop.breakdown(without_helper, WALL, EPOCHS)
    )


def test_breakdown_counts_nested_phases_once():
    """Logging epochs and checkpoints lie inside "epochs": moving their seconds from the rest of
    the loop into them changes their categories, not the total."""
    lean = [r for r in RECORDS if r["phase"] not in bench_loop.NESTED]
    with_nested = bench_loop.breakdown(RECORDS, WALL, EPOCHS)
    without = bench_loop.breakdown(lean, WALL, EPOCHS)
    assert without["epochs loop, besides the epochs"] == pytest.approx(0.6)
    assert without["checkpoints"] == 0.0 and without["tracking"] == pytest.approx(0.6)
    assert without["other, in the stages"] == pytest.approx(with_nested["other, in the stages"])
    for result in (with_nested, without):
        assert sum(result[part] for part in PARTS) + EPOCHS == pytest.approx(WALL)


def test_read_phases_of_a_missing_file_is_empty(tmp_path):
    assert bench_loop.read_phases(tmp_path / "none.jsonl") == []
    path = tmp_path / "phases.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS[:2]))
    assert bench_loop.read_phases(path) == RECORDS[:2]


def test_experiment_runs_dvc_exp_run_on_fresh_records(tmp_path, monkeypatch):
    """The phases file is emptied before the run (no stale records of the previous one), the
    command is the user's, the copy's own store is used, and epochs come from the progress lines."""
    phases_file = tmp_path / "phases.jsonl"
    phases_file.write_text(json.dumps(record(999, "figures", 0.0, 100.0)) + "\n")  # stale
    calls = []

    def fake_run(command, cwd, env, **kwargs):
        calls.append((command, cwd, env))
        with Path(env[phases.ENV]).open("a") as file:
            file.writelines(json.dumps(r) + "\n" for r in RECORDS)
        stdout = "epoch 1/2  lr 0.002  loss 0.3  1.2s\nepoch 2/2  lr 0.001  loss 0.2  1.2s\n"
        return subprocess.CompletedProcess(command, 0, stdout, "")

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////elsewhere/mlflow.db")
    monkeypatch.setattr(bench_loop.subprocess, "run", fake_run)
    result = bench_loop.experiment(tmp_path, 0.0023, phases_file)
    ((command, cwd, env),) = calls
    assert command == ["dvc", "exp", "run", "-S", "optimizer.lr=0.0023"] and cwd == tmp_path
    assert "MLFLOW_TRACKING_URI" not in env and env[phases.ENV] == str(phases_file)
    assert result == pytest.approx(bench_loop.breakdown(RECORDS, result["wall"], 2.4))
    assert result["figures"] == pytest.approx(0.5)


def test_experiment_that_fails_says_so(tmp_path, monkeypatch):
    def fake_run(command, **kwargs):
        return subprocess.CompletedProcess(command, 1, "", "ERROR: stage 'train' failed\n")

    monkeypatch.setattr(bench_loop.subprocess, "run", fake_run)
    with pytest.raises(PipelineError) as raised:
        bench_loop.experiment(tmp_path, 0.0021, tmp_path / "phases.jsonl")
    failed = "dvc exp run -S optimizer.lr=0.0021 failed:\nERROR: stage 'train' failed"
    assert str(raised.value) == failed


def test_the_median_run_is_the_one_with_the_median_overhead():
    runs = [bench_loop.breakdown(RECORDS, wall, EPOCHS) for wall in (12.0, 10.0, 30.0, 11.0)]
    assert bench_loop.median_run(runs) is runs[3]  # overheads 9.6, 7.6, 27.6, 8.6: the lower middle
    assert bench_loop.median_run(runs[:3]) is runs[0]
    median = bench_loop.median_run(runs)
    assert sum(median[part] for part in PARTS) + median["epochs"] == pytest.approx(median["wall"])


def test_report_lists_every_part_of_the_median():
    median = bench_loop.breakdown(RECORDS, WALL, EPOCHS)
    text = bench_loop.report({"experiment": {"runs": [median], "median": median}})
    lines = text.splitlines()
    assert lines[0].startswith("one experiment (dvc exp run -S optimizer.lr=..., median of 1)")
    assert "10.0 s, the epochs 2.4 s, everything else 7.6 s:" in lines[0]
    assert [line.split("  ")[1].strip() for line in lines[1:]] == list(PARTS)
    assert lines[-1].split()[-2:] == ["3.00", "s"]


GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost"]


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        [*GIT, *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A tiny project: tracked, untracked and ignored files, and the LINKED folders."""
    root = tmp_path / "project"
    files = {
        ".gitignore": "/data/\n/models/\n*.log\n/.dvc/cache/\n",
        ".dvc/config": "[core]\n",
        "pipeline/stage.py": "print('tracked')\n",
        "README.md": "tracked\n",
        "gone.txt": "tracked, then deleted from the working tree\n",
        "notes/new.md": "untracked, not ignored\n",
        "run.log": "ignored\n",
        "notes/debug.log": "ignored\n",
        "data/prepared/train_x.npy": "linked\n",
        "models/model.npz": "linked\n",
        ".dvc/cache/files/md5/ab/cdef": "linked\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "init", "-q")
    git(root, "add", ".gitignore", ".dvc/config", "pipeline/stage.py", "README.md", "gone.txt")
    git(root, "commit", "-qm", "start")
    (root / "gone.txt").unlink()
    (root / "README.md").write_text("tracked, changed\n")  # the working tree's, not the commit's
    return root


def test_scratch_copy_is_the_working_tree_with_linked_folders_in_one_commit(project, tmp_path):
    target = tmp_path / "copy"
    target.mkdir()
    bench_loop.scratch_copy(project, target)

    copied = {str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()}
    copied = {name for name in copied if not name.startswith(".git/")}
    linked = {"data/prepared/train_x.npy", "models/model.npz", ".dvc/cache/files/md5/ab/cdef"}
    tree = {".gitignore", ".dvc/config", "pipeline/stage.py", "README.md", "notes/new.md"}
    assert copied == tree | linked  # no ignored *.log, no deleted gone.txt
    assert (target / "README.md").read_text() == "tracked, changed\n"
    for name in linked:  # hard links: the same inode
        assert (target / name).stat().st_ino == (project / name).stat().st_ino, name
    for name in tree:
        assert (target / name).stat().st_ino != (project / name).stat().st_ino, name

    assert git(target, "rev-list", "--count", "HEAD").strip() == "1"
    assert set(git(target, "ls-files").split()) == tree  # the linked folders stay ignored
    assert git(target, "status", "--porcelain") == ""  # the commit holds the whole copy
    assert git(project, "rev-list", "--count", "HEAD").strip() == "1"  # the project untouched


def test_dvc_alone_times_each_run_and_refuses_one_that_ran_a_stage(tmp_path):
    """``dvc_seconds`` times a command that must not run any stage (DVC's own floor): each
    run's seconds, their median, and an error when a stage ran after all."""
    quiet = [sys.executable, "-c", "print('Data and pipelines are up to date.')"]
    timed = bench_loop.dvc_seconds(tmp_path, quiet, 3)
    assert len(timed["runs"]) == 3 and timed["median"] == sorted(timed["runs"])[1]
    assert timed["command"] == " ".join(quiet) and all(s > 0 for s in timed["runs"])
    ran = [sys.executable, "-c", "print(\"Running stage 'train':\")"]
    with pytest.raises(PipelineError, match="ran a stage or failed"):
        bench_loop.dvc_seconds(tmp_path, ran, 1)


def test_report_gives_dvc_alone_with_its_runs():
    median = bench_loop.breakdown(RECORDS, WALL, EPOCHS)
    alone = {"repro_nothing_to_do": {"command": "dvc repro", "runs": [1.25, 1.0], "median": 1.25}}
    text = bench_loop.report(
        {"experiment": {"runs": [median], "median": median, "dvc_alone": alone}}
    )
    assert text.splitlines()[-1] == "DVC alone, dvc repro: median 1.25 s (1.25, 1.00)"
