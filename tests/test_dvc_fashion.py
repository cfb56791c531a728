"""`data=fashion_mnist` through the real `dvc repro` on a small generated slice in Kaggle's
Fashion-MNIST layout (label,pixel1..pixel784): prepare, train, evaluate and predict name the
clothes, and nothing says "digit"."""

from pathlib import Path

import pandas as pd

from pipeline.data.catalog import FASHION_MNIST
from tests.conftest import digit_images
from tests.test_dvc_pipeline import commit, project, run, stages_run  # noqa: F401 (a fixture)

TINY_FASHION = """\
# @package _global_
data:
  train_csv: small/train.csv
  test_csv: small/test.csv
  val_size: 50
  augment:
    flip: true
train:
  epochs: 2
  batch_size: 32
tracking:
  enabled: false
"""


def write_kaggle_fashion_csv(path: Path, n: int, seed: int) -> None:
    pixels, labels = digit_images(n, seed)
    header = ",".join(["label", *(f"pixel{i}" for i in range(1, 785))])
    rows = [",".join(map(str, [label, *row])) for label, row in zip(labels, pixels, strict=True)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")


def test_fashion_mnist_through_dvc_repro_names_the_classes(project: Path) -> None:  # noqa: F811
    write_kaggle_fashion_csv(project / "small" / "train.csv", 300, seed=1)
    write_kaggle_fashion_csv(project / "small" / "test.csv", 100, seed=2)
    (project / "conf" / "experiment" / "tiny_fashion.yaml").write_text(TINY_FASHION)
    overrides = ("data=fashion_mnist", "experiment=tiny_fashion")
    run(project, "python", "-m", "pipeline.tools.params", *overrides)
    commit(project)
    output = run(project, "dvc", "repro", "evaluate", "predict")
    expected = ["check_params", "prepare", "train", "evaluate", "predict"]  # no fetch upstream
    assert stages_run(output) == expected
    reports, names = project / "reports", FASHION_MNIST.classes
    report = (reports / "report.md").read_text()
    assert report.startswith("# Evaluation on the test split of Fashion-MNIST\n")
    assert "| class | precision | recall | F1 | support |" in report
    assert all(f"| {name} |" in report and f"**{name}**" in report for name in names)
    classes = pd.read_csv(reports / "classes.csv")
    assert classes["class"].tolist() == list(names)
    submission = pd.read_csv(reports / "submission.csv")
    assert list(submission.columns) == ["ImageId", "Label", "Class"]
    assert submission["Class"].tolist() == [names[label] for label in submission["Label"]]
    for name in ("report.md", "classes.csv", "submission.csv"):
        assert "digit" not in (reports / name).read_text().lower(), name
    plots = run(project, "dvc", "plots", "show", "--json")
    assert "F1 score per class" in plots and "true class" in plots
