"""Fashion-MNIST's class names in every output that names a class: the report, the per-class
table, the confusion matrix, the misclassified grid, the learner's view, predict, and the MLflow
Model's output columns; MNIST's stay as they were."""

from pathlib import Path

import numpy as np
import pandas as pd

import scratchnn as sn
from pipeline.data.catalog import FASHION_MNIST, MNIST
from pipeline.figures import learned, plots
from pipeline.stages.evaluate import markdown_report, per_class_scores
from pipeline.stages.predict import predict_csv, submission_csv
from tests.conftest import write_digits_csv

NAMES = list(FASHION_MNIST.classes)
DENSE = [{"type": "dense", "units": 10}]


def figure_text(figure) -> str:
    texts = [t.get_text() for t in figure.texts]
    for ax in figure.axes:
        texts += [t.get_text() for t in ax.texts]
        texts += [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
        texts += [ax.get_xlabel(), ax.get_ylabel(), ax.get_title()]
    return "\n".join(texts)


def test_the_report_and_its_table_name_the_clothes() -> None:
    confusion = np.diag(np.arange(1, 11))
    confusion[6, 0] = 3  # three shirts taken for T-shirts
    classes = per_class_scores(confusion, NAMES)
    assert classes["class"].tolist() == NAMES
    report = markdown_report("test", "", 0.3, 0.9, 58, classes, confusion, data=FASHION_MNIST)
    assert report.startswith("# Evaluation on the test split of Fashion-MNIST\n")
    assert "| Shirt | 100.00% | 70.00% |" in report and "| **Shirt** | 3 |" in report
    assert "| true \\ predicted | T-shirt/top | Trouser |" in report
    assert "digit" not in report
    mnist = markdown_report(
        "test", "", 0.3, 0.9, 58, per_class_scores(confusion, MNIST.classes), confusion
    )
    assert mnist.startswith("# Evaluation on the test split\n") and "| digit |" in mnist


def test_the_figures_name_the_clothes() -> None:
    rng = np.random.default_rng(0)
    confusion = rng.integers(0, 50, (10, 10))
    text = figure_text(plots.confusion_figure(confusion, "c", FASHION_MNIST))
    assert all(name in text for name in NAMES) and "predicted class" in text
    labels = np.arange(20) % 10
    probabilities = rng.dirichlet(np.ones(10), 20)
    grid = plots.misclassified_figure(
        rng.random((20, 784)), labels, probabilities, "m", dataset=FASHION_MNIST
    )
    text = figure_text(grid)
    assert "→" in text and any(name in text for name in NAMES) and "digit" not in text
    network = sn.build_network(DENSE, input_shape=(784,), rng=np.random.default_rng(0))
    view = learned.activations_figure(network, rng.random(784), 9, FASHION_MNIST)
    text = figure_text(view)
    assert "true class Ankle boot" in text and "Sandal" in text and "digit" not in text


def test_predict_writes_and_prints_class_names(tmp_path: Path) -> None:
    assert submission_csv(np.array([9, 0])) == "ImageId,Label\n1,9\n2,0\n"
    expected = "ImageId,Label,Class\n1,9,Ankle boot\n2,0,T-shirt/top\n"
    assert submission_csv(np.array([9, 0]), FASHION_MNIST) == expected
    csv = tmp_path / "test.csv"
    write_digits_csv(csv, 20)
    network = sn.build_network(DENSE, input_shape=(784,), rng=np.random.default_rng(0))
    model = tmp_path / "model.npz"
    sn.save_weights(network, model)
    predict_csv(csv, model, tmp_path / "out.csv", FASHION_MNIST)
    out = pd.read_csv(tmp_path / "out.csv")
    assert set(out["Class"]) <= set(NAMES) and len(out) == 20


def test_the_mlflow_model_outputs_the_class_names_and_registers_apart(
    tmp_path: Path, monkeypatch
) -> None:
    import mlflow

    from pipeline.tools.register import register_run
    from pipeline.tracking.logged_model import log_model
    from pipeline.tracking.queries import METRIC

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("names", artifact_location=str(tmp_path / "artifacts"))
    run_id = client.create_run(experiment).info.run_id
    network = sn.build_network(DENSE, input_shape=(784,), rng=np.random.default_rng(0))
    sn.save_weights(network, tmp_path / "model.npz")
    x = np.random.default_rng(1).random((5, 784)).astype(np.float32)
    log_model(uri, experiment, run_id, tmp_path / "model.npz", x[:2], NAMES)
    loaded = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    out = loaded.predict(pd.DataFrame(x, columns=[f"pixel{i}" for i in range(784)]))
    assert list(out.columns) == ["label", "class", *(f"p_{name}" for name in NAMES)]
    assert out["label"].tolist() == network.predict(x).tolist()
    assert out["class"].tolist() == [NAMES[label] for label in out["label"]]
    assert loaded.metadata.signature.outputs.input_names()[:2] == ["label", "class"]
    assert client.get_run(run_id).data.params == {}  # the names are an artifact, not parameters
    client.log_param(run_id, "data.name", "fashion_mnist")  # as train logs its configuration
    client.log_metric(run_id, METRIC, 0.9)
    registration = register_run(run_id)
    assert registration.model == "neuralscratch-fashion-mnist"  # not MNIST's champion
    assert "models:/neuralscratch-fashion-mnist@champion" in registration.summary(run_id)
