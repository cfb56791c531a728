"""predict: Kaggle submissions from generated CSVs, any model file, and single images."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import scratchnn as sn
from pipeline.config import compose, to_yaml
from pipeline.data.artifacts import load_split
from pipeline.data.image_csv import DataError
from pipeline.network import models
from pipeline.stages import predict
from pipeline.stages.evaluate import evaluate
from pipeline.stages.prepare import prepare
from pipeline.stages.train import train, write_outputs
from scratchnn.serialization import save_layer_files
from tests.conftest import digit_images, write_digits_csv
from tests.pipeline.stages.test_stages import tiny_config


def run_module(module: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m module args...`` as a user runs it: output captured, exit code kept."""
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def run_predict(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return run_module("pipeline.stages.predict", *args, cwd=cwd)


@pytest.fixture(scope="module")
def kaggle_run(tmp_path_factory) -> dict:
    """prepare -> train -> evaluate on Kaggle-layout CSVs with an unlabelled test.csv."""
    tmp_path = tmp_path_factory.mktemp("kaggle")
    train_csv, test_csv = tmp_path / "kaggle" / "train.csv", tmp_path / "kaggle" / "test.csv"
    write_digits_csv(train_csv, 300, layout="kaggle", seed=1)
    _, labels = write_digits_csv(test_csv, 40, layout="kaggle", labelled=False, seed=2)
    cfg = tiny_config(tmp_path, train_csv, test_csv)
    prepare(cfg)
    network, history = train(cfg)
    write_outputs(cfg, network, history)
    metrics, _ = evaluate(cfg)
    return {"cfg": cfg, "network": network, "metrics": metrics, "labels": labels, "tmp": tmp_path}


def test_kaggle_submission_has_one_row_per_test_image(kaggle_run):
    cfg, tmp = kaggle_run["cfg"], kaggle_run["tmp"]
    assert kaggle_run["metrics"]["evaluated_on"] == "validation"
    output = tmp / "submission.csv"
    summary = predict.predict_csv(cfg.data.test_csv, cfg.paths.model, output)
    assert "40 images" in summary and "labels" not in summary
    lines = output.read_text().splitlines()
    assert lines[0] == "ImageId,Label" and len(lines) == 41
    submission = pd.read_csv(output)
    assert submission["ImageId"].tolist() == list(range(1, 41))
    x_test, _ = load_split(cfg.paths.prepared, "test")
    expected = kaggle_run["network"].predict(x_test)  # the same rows, as prepare scaled them
    np.testing.assert_array_equal(submission["Label"], expected)
    assert (submission["Label"] == kaggle_run["labels"]).mean() > 0.5  # it learned something


def test_stage_command_writes_the_same_submission(kaggle_run):
    cfg, tmp = kaggle_run["cfg"], kaggle_run["tmp"]
    output = tmp / "cli" / "submission.csv"
    args = ["--csv", cfg.data.test_csv, "--model", cfg.paths.model, "--output", str(output)]
    result = run_predict(*args, cwd=tmp)  # no params.yaml there: every path is an argument
    assert result.returncode == 0, result.stderr
    assert f"-> {output}" in result.stdout
    predict.predict_csv(cfg.data.test_csv, cfg.paths.model, tmp / "in_process.csv")
    assert output.read_bytes() == (tmp / "in_process.csv").read_bytes()


def test_any_model_file_and_labelled_csv(kaggle_run, tmp_path):
    cfg = kaggle_run["cfg"]
    save_layer_files(kaggle_run["network"], tmp_path / "layers")  # the original layout
    csv = tmp_path / "labelled.csv"
    _, labels = write_digits_csv(csv, 30, layout="mnist", seed=3)
    from_npz = predict.predict_csv(csv, cfg.paths.model, tmp_path / "a.csv")
    from_layers = predict.predict_csv(csv, tmp_path / "layers", tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    accuracy = (pd.read_csv(tmp_path / "a.csv")["Label"] == labels).mean()
    assert f"the CSV has labels: accuracy {accuracy:.2%}" in from_npz
    assert from_layers.endswith(f"accuracy {accuracy:.2%}")


def test_bad_csv_names_line_and_column_and_writes_nothing(kaggle_run, tmp_path):
    csv = tmp_path / "bad.csv"
    write_digits_csv(csv, 5, layout="kaggle", labelled=False)
    lines = csv.read_text().splitlines()
    cells = lines[3].split(",")
    cells[5] = "abc"
    lines[3] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")
    output = tmp_path / "submission.csv"
    model = kaggle_run["cfg"].paths.model
    result = run_predict("--csv", str(csv), "--model", model, "--output", str(output))
    assert result.returncode == 1
    assert (
        result.stderr
        == f"error: {csv}: line 4, column 'pixel5': 'abc' is not an integer pixel value\n"
    )
    assert not output.exists() and not list(tmp_path.glob(".submission*"))


def test_model_of_the_wrong_shape_is_refused(tmp_path):
    wrong = sn.mlp([784, 16, 9], rng=np.random.default_rng(0))
    sn.save_weights(wrong, tmp_path / "nine.npz")
    csv = tmp_path / "t.csv"
    write_digits_csv(csv, 5, layout="kaggle", labelled=False)
    result = run_predict("--csv", str(csv), "--model", str(tmp_path / "nine.npz"), "--output", "x")
    assert result.returncode == 1
    assert "layer2_weights has shape (16, 9), expected (16, 10) for 10 classes" in result.stderr


def test_defaults_come_from_params_yaml(tmp_path, kaggle_run):
    """No arguments: the test CSV, the model and the reports folder are params.yaml's."""
    cfg = kaggle_run["cfg"]
    result = run_predict(cwd=tmp_path)  # no params.yaml there yet
    assert result.returncode == 1 and "params.yaml: no such file" in result.stderr
    reports = tmp_path / "elsewhere"
    overrides = [
        f"data.test_csv={cfg.data.test_csv}",
        f"paths.model={cfg.paths.model}",
        f"paths.reports={reports}",
    ]
    (tmp_path / "params.yaml").write_text(to_yaml(compose(overrides)))
    result = run_predict(cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    expected = tmp_path / "expected.csv"
    predict.predict_csv(cfg.data.test_csv, cfg.paths.model, expected)
    assert (reports / "submission.csv").read_bytes() == expected.read_bytes()
    assert f"of {cfg.data.test_csv} -> {reports / 'submission.csv'} (model {cfg.paths.model})" in (
        result.stdout
    )


# --- single images -------------------------------------------------------------------------


def as_png(pixels: np.ndarray, path: Path) -> Path:
    Image.fromarray(pixels.reshape(28, 28).astype(np.uint8), "L").save(path)
    return path


def test_28x28_png_gives_the_pixels_the_network_was_trained_on(tmp_path, kaggle_run):
    pixels, _ = digit_images(3, seed=4)
    path = as_png(pixels[0], tmp_path / "digit.png")
    np.testing.assert_array_equal(predict.read_image(path), pixels[0] / 255.0)
    network = kaggle_run["network"]
    digit, report = predict.predict_image(path, kaggle_run["cfg"].paths.model)
    expected = models.probabilities(network, (pixels[:1] / 255.0).astype(np.float32))[0]
    assert digit == int(np.argmax(expected))
    lines = report.splitlines()
    assert lines[0] == f"{path}: {digit}" and lines[1] == "top 3:" and len(lines) == 5
    shown = [int(line.split()[0]) for line in lines[2:]]
    assert shown == np.argsort(-expected, kind="stable")[:3].tolist()
    assert lines[2].endswith(f"{expected[digit]:.2%}")


def test_dark_ink_on_light_paper_is_inverted(tmp_path):
    image = np.zeros((28, 28))
    image[5:23, 12:15] = 1.0  # a "1", white on black
    white_on_black = as_png(image * 255, tmp_path / "w.png")
    black_on_white = as_png(255 - image * 255, tmp_path / "b.png")
    np.testing.assert_array_equal(predict.read_image(white_on_black), image.reshape(-1))
    np.testing.assert_array_equal(predict.read_image(black_on_white), image.reshape(-1))


def test_large_colour_image_is_framed_like_mnist(tmp_path):
    # dark blue ink on cream paper, 200x300, the digit off-centre
    canvas = np.full((200, 300, 3), (245, 240, 220), dtype=np.uint8)
    canvas[30:130, 40:52] = (20, 30, 120)  # a thick vertical bar, 100 px tall
    Image.fromarray(canvas, "RGB").save(tmp_path / "photo.png")
    seen = predict.read_image(tmp_path / "photo.png").reshape(28, 28)
    rows, _ = np.nonzero(seen > 0.5)
    assert rows.max() - rows.min() + 1 in (19, 20, 21)  # the longer side scaled to 20 px
    centre = (np.indices(seen.shape) * seen).reshape(2, -1).sum(axis=1) / seen.sum()
    np.testing.assert_allclose(centre, [13.5, 13.5], atol=1.0)
    assert seen.max() == pytest.approx(1.0, abs=0.05) and seen[0].max() == 0.0


def test_transparent_background_is_background(tmp_path):
    rgba = np.zeros((60, 60, 4), dtype=np.uint8)
    rgba[10:50, 28:32] = (255, 255, 255, 255)  # white stroke on a transparent canvas
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    seen = predict.read_image(tmp_path / "t.png").reshape(28, 28)
    assert seen.max() > 0.9 and seen[:, :5].max() == 0.0  # the stroke, in a black frame


def test_blank_and_unreadable_images_name_the_file(tmp_path):
    Image.new("L", (50, 50), 200).save(tmp_path / "blank.png")
    with pytest.raises(DataError, match=r"blank\.png: the image looks blank"):
        predict.read_image(tmp_path / "blank.png")
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(DataError, match=r"text\.png: not a readable image"):
        predict.read_image(tmp_path / "text.png")
    with pytest.raises(DataError, match=r"nope\.png: no such image file"):
        predict.read_image(tmp_path / "nope.png")


def test_image_command_prints_top_3_and_saves_what_it_saw(tmp_path, kaggle_run):
    pixels, _ = digit_images(1, seed=5)
    path = as_png(255 - pixels[0], tmp_path / "ink.png")  # dark on light
    seen = tmp_path / "seen.png"
    model = kaggle_run["cfg"].paths.model
    result = run_predict("--image", str(path), "--model", model, "--save-input", str(seen))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == "top 3:" and len(result.stdout.splitlines()) == 5
    np.testing.assert_array_equal(np.asarray(Image.open(seen)), pixels[0].reshape(28, 28))
    bad = run_predict("--image", str(tmp_path / "nope.png"), "--model", model)
    assert bad.returncode == 1 and bad.stderr.startswith(f"error: {tmp_path / 'nope.png'}")
