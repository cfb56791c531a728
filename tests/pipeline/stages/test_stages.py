"""prepare -> train -> evaluate on small generated CSVs in a temp folder."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import scratchnn as sn
from pipeline.config import Config, ConfigError, compose, to_yaml, validate
from pipeline.data.artifacts import load_split
from pipeline.stages.evaluate import evaluate
from pipeline.stages.prepare import prepare
from pipeline.stages.train import train, write_outputs
from tests.conftest import tiny_overrides, write_digits_csv


def tiny_config(tmp_path: Path, train_csv: Path, test_csv: Path, *extra: str) -> Config:
    return validate(compose([*tiny_overrides(tmp_path, (train_csv, test_csv)), *extra]))


def test_prepare_splits_shuffles_and_normalises(tmp_path, small_csvs):
    cfg = tiny_config(tmp_path, *small_csvs)
    info = prepare(cfg)
    assert info["rows"] == {"train": 250, "val": 50, "test": 100}
    assert info["test_labelled"] and sum(info["label_counts"]["val"]) == 50
    x, y = load_split(cfg.paths.prepared, "train")
    assert x.dtype == np.float32 and x.shape == (250, 784) and y.dtype == np.int64
    assert x.min() >= 0.0 and x.max() <= 1.0
    pixels, labels = write_digits_csv(tmp_path / "again.csv", 300, seed=1)
    order = np.random.default_rng(cfg.data.seed).permutation(300)
    np.testing.assert_array_equal(y, labels[order[50:]])  # the first shuffled rows are held out
    np.testing.assert_array_equal(x, pixels[order[50:]].astype(np.float32) / np.float32(255))
    assert not list(tmp_path.glob(".prepared*"))  # no temp folders left behind


def test_prepare_in_float64_divides_in_float64(tmp_path, small_csvs):
    cfg = tiny_config(tmp_path, *small_csvs, "dtype=float64")
    prepare(cfg)
    x, _ = load_split(cfg.paths.prepared, "test")
    pixels, _ = write_digits_csv(tmp_path / "again.csv", 100, seed=2)
    np.testing.assert_array_equal(x, pixels / 255.0)


def test_validation_size_must_leave_training_rows(tmp_path, small_csvs):
    cfg = tiny_config(tmp_path, *small_csvs, "data.val_size=300")
    with pytest.raises(ConfigError, match=r"data.val_size=300 .* smaller than the 300 rows"):
        prepare(cfg)
    assert not Path(cfg.paths.prepared).exists()


def test_train_then_evaluate(tmp_path, small_csvs):
    cfg = tiny_config(tmp_path, *small_csvs)
    prepare(cfg)
    lines = []
    network, history = train(cfg, on_epoch_end=lines.append)
    write_outputs(cfg, network, history)
    assert [m.epoch for m in lines] == [1, 2, 3]
    table = pd.read_csv(tmp_path / "reports" / "history.csv")
    assert list(table.columns) == [
        "epoch",
        "lr",
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
    ]
    assert table["lr"].iloc[0] == cfg.optimizer.lr
    metrics, report = evaluate(cfg)
    assert metrics["evaluated_on"] == "test" and metrics["test"]["n"] == 100
    assert metrics["test"]["accuracy"] > 0.5  # fake digits are easy; chance is 0.1
    saved = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    assert saved["test"]["accuracy"] == metrics["test"]["accuracy"]
    predictions = pd.read_csv(tmp_path / "reports" / "predictions.csv")
    assert list(predictions.columns) == ["actual", "predicted"] and len(predictions) == 100
    accuracy = (predictions.actual == predictions.predicted).mean()
    assert accuracy == pytest.approx(metrics["test"]["accuracy"])
    assert f"accuracy **{accuracy:.2%}**" in report
    classes = pd.read_csv(tmp_path / "reports" / "classes.csv")
    assert classes["support"].sum() == 100
    for png in ("confusion.png", "misclassified.png", "training_curves.png"):
        with Image.open(tmp_path / "reports" / png) as image:
            assert image.format == "PNG" and min(image.size) >= 300
        assert f"]({png})" in report  # linked from report.md, which sits beside them


def test_training_is_deterministic(tmp_path, small_csvs):
    cfg = tiny_config(tmp_path, *small_csvs)
    prepare(cfg)
    first, _ = train(cfg)
    second, _ = train(cfg)
    assert np.array_equal(first.params, second.params)
    other, _ = train(tiny_config(tmp_path, *small_csvs, "train.seed=1"))
    assert not np.array_equal(first.params, other.params)


def test_unlabelled_test_set_is_reported_on_validation(tmp_path):
    train_csv, test_csv = tmp_path / "train.csv", tmp_path / "test.csv"
    write_digits_csv(train_csv, 200, layout="kaggle")
    write_digits_csv(test_csv, 30, layout="kaggle", labelled=False)
    cfg = tiny_config(tmp_path, train_csv, test_csv)
    info = prepare(cfg)
    assert not info["test_labelled"] and info["rows"]["test"] == 30
    write_outputs(cfg, *train(cfg))
    metrics, report = evaluate(cfg)
    assert metrics["evaluated_on"] == "validation" and "test" not in metrics
    assert "has no labels, so this report is on the validation split" in report


def test_model_file_loads_back(tmp_path, small_csvs):
    cfg = tiny_config(tmp_path, *small_csvs)
    prepare(cfg)
    network, history = train(cfg)
    write_outputs(cfg, network, history)
    loaded = sn.load_weights(cfg.paths.model)
    np.testing.assert_array_equal(loaded.params, network.params)


def test_stage_command_reports_bad_input_without_traceback(tmp_path):
    train_csv = tmp_path / "train.csv"
    write_digits_csv(train_csv, 20)
    train_csv.write_text(train_csv.read_text().replace("\n3,", "\nx,", 1))
    cfg = tiny_overrides(tmp_path, (train_csv, train_csv))
    (tmp_path / "params.yaml").write_text(to_yaml(compose(cfg)))
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.stages.prepare"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {train_csv}: line ")
    assert "column 'label'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "prepared").exists()


WRITE_ALL_FOUR = """
import sys
from pathlib import Path
from pipeline.io import atomic_dir, write_text
folder = Path(sys.argv[1])
write_text(folder / "report.md", "x")
with atomic_dir(folder / "folder"):
    pass
(folder / "plain.txt").write_text("x")
(folder / "plain").mkdir()
"""


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_outputs_are_readable_by_others_as_the_umask_allows(tmp_path, umask):
    """Outputs get the modes `open()` and `mkdir` give under the process's umask (temp files
    are private until renamed), in a process started with that umask."""
    subprocess.run(
        [sys.executable, "-c", WRITE_ALL_FOUR, str(tmp_path)],
        preexec_fn=lambda: os.umask(umask),
        check=True,
    )
    mode = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert mode["report.md"] == mode["plain.txt"] == 0o666 & ~umask
    assert mode["folder"] == mode["plain"] == 0o777 & ~umask


@pytest.mark.parametrize("made", ["file", "folder"])
def test_an_interrupt_as_the_temp_output_is_created_leaves_none(tmp_path, monkeypatch, made):
    """Found in CI: a fetch interrupted by SIGTERM exited 130 but left its temp CSV, because the
    signal landed just after the temp file was created, before the code that deletes it on an
    error. Here the interrupt is raised right after the temp file or folder is created."""
    import pipeline.io

    create = os.open if made == "file" else os.mkdir

    def created_then_interrupted(*args, **kwargs):
        create(*args, **kwargs)
        raise KeyboardInterrupt

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(os, create.__name__, created_then_interrupted)
        if made == "file":
            pipeline.io.write_text(tmp_path / "report.md", "x")
        else:
            with pipeline.io.atomic_dir(tmp_path / "prepared"):
                pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("step", "left"),
    [
        ("the folder for the old one is made", "old"),
        ("the old folder is moved aside", "old"),
        ("the new folder is moved in", "new"),
    ],
)
def test_replacing_a_folder_when_interrupted_leaves_the_old_or_the_new(
    tmp_path, monkeypatch, step, left
):
    """A folder cannot be renamed over one with files: the old one is moved aside first. An
    interrupt between the two renames used to leave no folder at all, its old files hidden in
    a ``.old`` folder; now ``path`` is the old or the new, whole, and nothing else is left."""
    import pipeline.io

    prepared = tmp_path / "prepared"
    prepared.mkdir()
    (prepared / "old.txt").write_text("old")
    calls = {"mkdir": 0, "replace": 0}
    real_mkdir, real_replace = os.mkdir, Path.replace
    interrupt_after = {
        "the folder for the old one is made": ("mkdir", 2),  # the temp folder is the first
        "the old folder is moved aside": ("replace", 1),
        "the new folder is moved in": ("replace", 2),
    }[step]

    def counted(name, real):
        def call(*args, **kwargs):
            result = real(*args, **kwargs)
            calls[name] += 1
            if (name, calls[name]) == interrupt_after:
                raise KeyboardInterrupt
            return result

        return call

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(os, "mkdir", counted("mkdir", real_mkdir))
        patch.setattr(Path, "replace", counted("replace", real_replace))
        with pipeline.io.atomic_dir(prepared) as new:
            (new / "new.txt").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["prepared"]
    assert [p.name for p in prepared.iterdir()] == [f"{left}.txt"]


def train_with_stderr_on(folder: Path, terminal: bool) -> tuple[str, str]:
    """`python -m pipeline.stages.train` in ``folder``, its stderr a terminal (a pty) or a pipe;
    what it wrote to stdout and to stderr."""
    import fcntl
    import pty
    import struct
    import termios

    command = [sys.executable, "-m", "pipeline.stages.train"]
    if not terminal:
        result = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=True)
        return result.stdout, result.stderr
    controller, stderr = pty.openpty()
    # a terminal 100 columns wide (a new pty has 0: nothing would fit on its lines)
    fcntl.ioctl(stderr, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(command, cwd=folder, stdout=subprocess.PIPE, stderr=stderr)
    os.close(stderr)
    written = []
    while True:
        try:
            chunk = os.read(controller, 1 << 16)
        except OSError:  # the terminal's other end is closed: the process has exited
            break
        if not chunk:
            break
        written.append(chunk)
    os.close(controller)
    assert process.stdout is not None
    out = process.stdout.read().decode()
    assert process.wait() == 0
    return out, b"".join(written).decode()


def test_a_terminal_gets_a_bar_inside_each_epoch_and_a_pipe_one_line_per_epoch(
    tmp_path, small_csvs
):
    """docs/configuration.md: on a terminal a progress bar runs inside each epoch (on stderr); logs
    and pipes get one line per epoch only."""
    overrides = [*tiny_overrides(tmp_path, small_csvs, batch_size=8), "tracking.enabled=false"]
    (tmp_path / "params.yaml").write_text(to_yaml(compose(overrides)))
    prepare(validate(compose(overrides)))
    for terminal in (True, False):
        out, err = train_with_stderr_on(tmp_path, terminal)
        assert [line.split()[1] for line in out.splitlines() if line.startswith("epoch")] == [
            "1/3",
            "2/3",
            "3/3",
        ]
        bars = [f"epoch {epoch}/3:" in err for epoch in (1, 2, 3)]
        assert bars == [terminal] * 3, err
        assert ("batch" in err) == terminal and ("\r" in err) == terminal
