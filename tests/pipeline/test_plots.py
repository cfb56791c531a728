"""The PNG figures, and the offline page that `dvc plots show` writes with our template."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from PIL import Image

from pipeline.config import PROJECT_ROOT
from pipeline.figures import plots
from pipeline.stages import plots_template
from tests.conftest import require_tool

CHROMIUM = shutil.which("chromium")
NPM = shutil.which("npm")


def saved_png(figure, path: Path) -> Image.Image:
    plots.save_png(figure, path)
    with Image.open(path) as image:
        image.load()
        return image


def test_confusion_figure_annotates_every_nonzero_cell(tmp_path):
    confusion = np.diag([50, 60, 70]) + np.array([[0, 3, 0], [1, 0, 0], [0, 0, 0]])
    figure = plots.confusion_figure(confusion, "test")
    texts = sorted(t.get_text() for t in figure.axes[0].texts)
    assert texts == sorted(["50", "60", "70", "3", "1"])
    diagonal = next(t for t in figure.axes[0].texts if t.get_text() == "70")
    assert to_rgba(diagonal.get_color()) == to_rgba("white")  # dark cell, light text
    image = saved_png(figure, tmp_path / "c.png")
    assert image.format == "PNG" and image.size == (720, 620)


def test_same_figure_gives_the_same_bytes(tmp_path):
    confusion = np.arange(100).reshape(10, 10)
    plots.save_png(plots.confusion_figure(confusion, "x"), tmp_path / "a.png")
    plots.save_png(plots.confusion_figure(confusion, "x"), tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_most_confident_mistakes_come_first():
    labels = np.array([0, 1, 2, 3])
    probabilities = np.array(
        [
            [0.9, 0.1, 0.0, 0.0],  # right
            [0.6, 0.4, 0.0, 0.0],  # wrong, 0.6
            [0.0, 0.05, 0.05, 0.9],  # wrong, 0.9
            [0.0, 0.0, 0.3, 0.7],  # right
        ]
    )
    assert plots.most_confident_mistakes(labels, probabilities, 10).tolist() == [2, 1]
    assert plots.most_confident_mistakes(labels, probabilities, 1).tolist() == [2]


def test_misclassified_images_are_drawn_upright_with_labels():
    # an "L": a bar down the left column and along the bottom row; transposed it would be a
    # bar along the top row and down the right column
    image = np.zeros((28, 28))
    image[2:26, 4] = 1.0
    image[25, 4:20] = 1.0
    images = np.stack([np.zeros(784), image.reshape(-1)])
    labels = np.array([0, 1])
    probabilities = np.array(
        [[0.9] + [0.1 / 9] * 9, [0.0, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.95, 0, 0]]
    )
    figure = plots.misclassified_figure(images, labels, probabilities, "t", count=4, columns=2)
    (ax,) = figure.axes
    grid = ax.images[0].get_array()
    np.testing.assert_array_equal(grid[:28, :28], image)  # only the one mistake, first
    assert grid[:, 28:].mask.all()  # and nothing beside it
    assert ax.images[0].get_clim() == (0.0, 1.0)  # fixed scale, no contrast stretch
    assert [t.get_text() for t in ax.texts] == ["true 1 → 7\n95.0%  #1"]


def test_no_mistakes_still_makes_a_figure(tmp_path):
    probabilities = np.eye(10)
    figure = plots.misclassified_figure(np.zeros((10, 784)), np.arange(10), probabilities, "t")
    assert "no misclassified images" in [t.get_text() for ax in figure.axes for t in ax.texts]
    saved_png(figure, tmp_path / "m.png")


def test_training_curves_plot_the_history():
    history = pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            "lr": [0.1, 0.05, 0.025],
            "train_loss": [1.0, 0.5, 0.3],
            "train_accuracy": [0.5, 0.8, 0.9],
            "val_loss": [1.1, 0.6, 0.4],
            "val_accuracy": [0.45, 0.75, 0.85],
        }
    )
    figure = plots.training_curves_figure(history, "curves")
    loss, accuracy, lr = figure.axes
    assert [ax.get_title() for ax in figure.axes] == ["loss", "accuracy", "learning rate"]
    assert [line.get_label() for line in loss.lines] == ["train", "validation"]
    np.testing.assert_array_equal(loss.lines[1].get_ydata(), [1.1, 0.6, 0.4])
    np.testing.assert_allclose(accuracy.lines[0].get_ydata(), [50, 80, 90])
    np.testing.assert_array_equal(lr.lines[0].get_ydata(), [0.1, 0.05, 0.025])


# --- the offline page ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def template() -> Path:
    """The template, built once with npm (fetches vega from the npm registry). A build that
    cannot inline Vega fails the tests that use it: no quiet fallback to the PNG-only page."""
    require_tool(NPM, "npm", "the plots_template stage needs it to fetch vega")
    folder = Path(tempfile.mkdtemp(prefix="plots-template-"))
    try:
        yield plots_template.build(folder / "plots_template.html", require_vega=True)
    finally:
        shutil.rmtree(folder)


def test_a_build_that_cannot_inline_vega_fails_when_vega_is_required(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))  # python, but no npm
    with pytest.raises(plots_template.NpmUnavailable, match=r"npm not found"):
        plots_template.build(tmp_path / "page.html", require_vega=True)
    assert not (tmp_path / "page.html").exists()


def test_template_inlines_vega_and_loads_nothing(template):
    page = template.read_text()
    assert "<script src" not in page and "{scripts}" not in page  # DVC's CDN tags go there
    assert page.count("{plot_divs}") == 1 and page.count("{refresh_tag}") == 1
    for package in plots_template.PACKAGES:
        assert f"/* {package.name} {package.version}, inlined" in page
    assert len(page) > 500_000  # the minified builds, not links to them


def test_tampered_tarball_is_refused(tmp_path):
    package = plots_template.PACKAGES[0]
    (tmp_path / package.tarball).write_bytes(b"not the tarball")
    with pytest.raises(plots_template.PipelineError, match=r"sha512 is sha512-.*expected"):
        plots_template.read_script(tmp_path / package.tarball, package)


def dvc_plots_page(project: Path, template: Path | None) -> Path:
    """`dvc plots show` on a line plot, DVC's confusion plot and a PNG, in a tiny DVC repo."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    if not (project / ".dvc").exists():
        project.mkdir(parents=True)
        subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=project, env=env, check=True)
        (project / "history.csv").write_text("epoch,loss\n1,0.5\n2,0.3\n3,0.2\n")
        (project / "predictions.csv").write_text("actual,predicted\n1,1\n2,1\n3,3\n")
        plots.save_png(plots.confusion_figure(np.eye(3, dtype=int), "c"), project / "c.png")
        (project / "dvc.yaml").write_text(
            "plots:\n"
            "  - history.csv: {x: epoch, y: loss}\n"
            "  - confusion: {template: confusion, x: actual, y: {predictions.csv: predicted}}\n"
            "  - c.png\n"
        )
    out = "ours" if template else "default"
    command = ["dvc", "plots", "show", "-o", out]
    if template:
        command += ["--html-template", str(template)]
    subprocess.run(command, cwd=project, env=env, check=True, capture_output=True)
    return project / out / "index.html"


def rendered_charts(page: Path) -> int:
    """How many Vega charts headless Chromium draws with every host name unresolvable."""
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--host-resolver-rules=MAP * ~NOTFOUND",  # no network: as if offline
                "--virtual-time-budget=10000",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    assert "<img" in dom
    return len(re.findall(r'<canvas[^>]*class="marks"', dom))


def test_dvc_plots_page_renders_offline_in_chromium(template, tmp_path):
    require_tool(CHROMIUM, "chromium", "it draws the page headless")
    assert rendered_charts(dvc_plots_page(tmp_path / "p", template)) == 2
    # the control: DVC's own page, whose scripts come from a CDN, draws nothing offline
    assert rendered_charts(dvc_plots_page(tmp_path / "p", None)) == 0


def build_template_without_npm(output: Path, home: Path) -> subprocess.CompletedProcess:
    """The plots_template stage writing ``output`` with only the environment's python on PATH."""
    venv_only = str(Path(sys.executable).parent)  # python, but no npm
    return subprocess.run(
        [sys.executable, "-m", "pipeline.stages.plots_template", str(output)],
        env={"PATH": venv_only, "HOME": str(home)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_without_npm_the_template_still_builds_for_the_png_figures(tmp_path):
    """A machine with only Python: `dvc repro` must not fail over the offline page."""
    output = tmp_path / "page.html"
    result = build_template_without_npm(output, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "npm not found" in result.stderr and "PNG figures only" in result.stderr
    page = output.read_text()
    assert "{plot_divs}" in page and "<script" not in page


def test_without_npm_the_committed_page_is_kept_with_a_warning(tmp_path):
    """A machine with only Python and the committed page (a fresh clone): `dvc repro` keeps it,
    Vega inline, byte for byte, and says why it did not rebuild it."""
    committed = PROJECT_ROOT / plots_template.TEMPLATE
    assert plots_template.is_complete(Path(committed).read_text())
    output = tmp_path / "plots_template.html"
    shutil.copyfile(committed, output)
    result = build_template_without_npm(output, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "warning: npm not found: the offline plots page needs Node.js's npm to fetch vega "
        f"(Debian: apt-get install npm); keeping {output}, which has Vega inline\n"
    )
    assert output.read_bytes() == Path(committed).read_bytes()
