"""docs/troubleshooting.md, "When things go wrong": train's checkpoint "is used only by a rerun with
the same configuration and data, and deleted once the model is written"."""

from pathlib import Path

import numpy as np

from pipeline.config import Config, compose, validate
from pipeline.network import checkpoint
from pipeline.stages.prepare import prepare
from pipeline.stages.train import train, train_tracked
from tests.conftest import tiny_overrides, write_digits_csv


def config(folder: Path, csvs: tuple[Path, Path]) -> Config:
    cfg = validate(compose([*tiny_overrides(folder, csvs, epochs=2), "tracking.enabled=false"]))
    prepare(cfg)
    return cfg


def test_a_checkpoint_of_other_images_is_not_used(tmp_path, small_csvs, capsys):
    """Found: the fingerprint held info.json (row and label counts, sources, settings) but not
    the images, so a checkpoint was resumed on other images of the same size and labels."""
    cfg = config(tmp_path, small_csvs)
    path = checkpoint.checkpoint_path(cfg)
    train(cfg, checkpoint_file=path)
    assert checkpoint.load(path, cfg) is not None  # the same data: it is used
    info = (Path(cfg.paths.prepared) / "info.json").read_text()

    train_csv = small_csvs[0]
    lines = train_csv.read_text().splitlines()
    header, rows = lines[0], [line.split(",") for line in lines[1:]]
    inverted = [[row[0], *(str(255 - int(v)) for v in row[1:])] for row in rows]
    train_csv.write_text("\n".join([header, *(",".join(row) for row in inverted)]) + "\n")
    prepare(cfg)
    assert (Path(cfg.paths.prepared) / "info.json").read_text() == info  # the same counts
    capsys.readouterr()
    assert checkpoint.load(path, cfg) is None
    assert "it is of another configuration or data" in capsys.readouterr().err


def test_the_checkpoint_is_deleted_once_the_model_is_written(tmp_path, small_csvs, monkeypatch):
    cfg = config(tmp_path, small_csvs)
    path = checkpoint.checkpoint_path(cfg)
    assert path.name == "model.checkpoint.npz" and path.parent == Path(cfg.paths.model).parent
    seen: list[bool] = []
    original = checkpoint.save

    def save_and_look(*args, **kwargs):
        original(*args, **kwargs)
        seen.append(path.is_file())

    monkeypatch.setattr(checkpoint, "save", save_and_look)
    train_tracked(cfg, None, echo=False, checkpoint_file=path)
    assert seen == [True, True]  # written after every epoch
    assert Path(cfg.paths.model).is_file() and not path.exists()


def test_other_images_of_the_same_shape_change_the_fingerprint(tmp_path):
    csvs = (tmp_path / "train.csv", tmp_path / "test.csv")
    write_digits_csv(csvs[0], 120, seed=1)
    write_digits_csv(csvs[1], 20, seed=2)
    cfg = config(tmp_path / "a", csvs)
    before = checkpoint.fingerprint(cfg)
    x = np.load(Path(cfg.paths.prepared) / "val_x.npy")
    x[0, 0] = 1.0 - x[0, 0]  # one pixel of one validation image
    np.save(Path(cfg.paths.prepared) / "val_x.npy", x)
    assert checkpoint.fingerprint(cfg) != before
