"""The README and the guides quote the default recipe's results; they are the committed ``reports/``
(which ``tests/test_dvc_lock.py`` ties to the committed code, and ``tests/test_recipes.py`` trains
afresh): the accuracy and loss, the first and last epoch lines, the network's size. Its table of the
other recipes quotes ``reports/recipes.json``, which ``make bench-recipes`` measures."""

import csv
import json
import re

import pytest

from pipeline.config import PROJECT_ROOT, compose, validate
from pipeline.network.factory import build_network
from pipeline.tracking.logged_model import architecture
from tests.guides import page, prose

README = page("README.md")
PROSE = prose("README.md")  # line breaks as spaces: a reflowed paragraph says the same
METRICS = json.loads((PROJECT_ROOT / "reports" / "metrics.json").read_text())
HISTORY = list(csv.DictReader((PROJECT_ROOT / "reports" / "history.csv").open()))
RECIPES = json.loads((PROJECT_ROOT / "reports" / "recipes.json").read_text())


def test_the_readme_quotes_the_committed_test_and_validation_results():
    test, val = METRICS["test"], METRICS["val"]
    correct = round(test["accuracy"] * test["n"])
    assert (
        f"accuracy **{test['accuracy']:.2%}** ({correct:,} of {test['n']:,} images), "
        f"loss {test['loss']:.4f}"
    ) in PROSE
    assert (
        f"**{test['accuracy'] * 100:.2f} % test accuracy** (loss {test['loss']:.4f}), "
        f"{val['accuracy'] * 100:.2f} % on the {val['n']:,} validation rows"
    ) in prose("configuration.md")
    assert f"now reaches **{test['accuracy'] * 100:.2f} %** on that test set" in PROSE
    assert (
        "| the default (`dvc repro`) | 784-128-64-10 MLP, Adam, 20 epochs | "
        f"{test['accuracy'] * 100:.2f} % |" in README
    )
    assert (
        f"the default configuration reaches {test['accuracy'] * 100:.2f} % on the test set "
        f"(loss {test['loss']:.4f})"
    ) in prose("speed.md")


@pytest.mark.parametrize("epoch", [1, 20])
def test_the_readmes_epoch_lines_are_the_committed_history(epoch):
    row = HISTORY[epoch - 1]
    assert int(row["epoch"]) == epoch and len(HISTORY) == 20
    line = (
        f"epoch {epoch:>2}/20  lr {float(row['lr']):.6f}  loss {float(row['train_loss']):.4f}  "
        f"acc {float(row['train_accuracy']):.2%}  val_loss {float(row['val_loss']):.4f}  "
        f"val_acc {float(row['val_accuracy']):.2%}"
    )
    assert line in README


def test_the_readmes_architecture_tag_and_parameter_count_are_the_default_networks():
    network = build_network(validate(compose()), 784, 10)
    assert network.parameter_count == 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10
    assert f"`model.architecture` (`{architecture(network)}`)" in prose("tracking.md")
    assert f"`model.parameter_count` (`{network.parameter_count}`)" in prose("tracking.md")


RECIPE_ROWS = ["mlp_best", "cnn", "cnn_augmented", "lstm", "vit", "resnet", "best"]


@pytest.mark.parametrize("recipe", RECIPE_ROWS)
def test_the_readmes_recipe_table_is_what_bench_recipes_measured(recipe):
    measured = RECIPES[recipe]
    (row,) = [line for line in README.splitlines() if line.startswith(f"| `experiment={recipe}` |")]
    assert measured["test_n"] == 10_000
    assert f"| **{measured['test_accuracy'] * 100:.2f} %** |" in row
    assert (
        f"{measured['training_seconds'] / 60:.1f} min ({measured['epochs']} epochs of "
        f"{measured['median_epoch_seconds']:.1f} s"
    ) in row
    assert f"`{recipe}` {measured['peak_memory_gb']:.2f} GB" in prose("configuration.md")


def test_the_readmes_cnn_augmented_epoch_is_what_bench_recipes_measured():
    seconds = RECIPES["cnn_augmented"]["median_epoch_seconds"]
    assert f"(batch norm, dropout, augmentation, validation) takes {seconds:.1f} s" in prose(
        "speed.md"
    )


def test_the_readmes_experiment_loop_figures_are_what_bench_loop_measured():
    speed = page("speed.md")
    results = json.loads((PROJECT_ROOT / "reports" / "bench_loop.json").read_text())
    runs, median = results["experiment"]["runs"], results["experiment"]["median"]
    walls = ", ".join(f"{run['wall']:.1f}" for run in runs)
    overheads = sorted(run["overhead"] for run in runs)
    assert f"| {walls} s |" in speed
    assert f"| {median['epochs']:.1f} s |" in speed
    assert f"**{median['overhead']:.1f} s** ({overheads[0]:.1f}\u2013{overheads[-1]:.1f})" in speed
    assert f"Where the {median['overhead']:.1f} s go now: DVC's own work" in speed
    assert f"MLflow {median['tracking']:.1f} s" in speed
    assert f"DVC's own work and the processes' exits {median['dvc']:.2f} s" in speed
    assert f"its own work in an experiment is {median['dvc']:.2f} s" in speed
    alone = results["experiment"]["dvc_alone"]
    for name, count in (("repro_nothing_to_do", 5), ("exp_run_from_run_cache", 3)):
        runs = sorted(alone[name]["runs"])
        quoted = f"{alone[name]['median']:.2f} s{'**' if count == 5 else ''} (median of {count}: "
        assert f"{quoted}{runs[0]:.2f}\u2013{runs[-1]:.2f} s)" in speed, name
    assert f"takes {alone['exp_run_from_run_cache']['median']:.2f} s; profiled" in speed
    sweep = results["sweep"]
    seconds = f"{sweep['sequential']['seconds']:.1f} s → {sweep['parallel']['seconds']:.1f} s"
    assert f"{seconds}\n(**{sweep['speedup']:.2f} \u00d7**) now" in speed
    prepared = sweep["parallel"]["phases"]["preparing a joblib worker"]
    assert f"That preparation takes {prepared:.1f} s, summed over the two workers" in prose(
        "speed.md"
    )


PREDICTIONS = list(csv.DictReader((PROJECT_ROOT / "reports" / "predictions.csv").open()))


def test_the_served_first_three_test_images_are_the_committed_models_digits():
    """docs/tracking.md, "Model versions": the champion (the `dvc repro` run's model) served, "the
    first three test images" -> `[7, 2, 1]`: the committed predictions of the test split, in
    order."""
    first = [int(row["predicted"]) for row in PREDICTIONS[:3]]
    assert len(PREDICTIONS) == METRICS["test"]["n"]
    assert f'["predictions"]])\nEOF\n{first}\n```' in page("tracking.md")


def test_the_hard_digits_the_readme_names_are_the_committed_models_mistakes():
    """docs/pipeline.md, "Reports": "test row 2654, a `6` written like an `l`, read as `1`; rows
    1226, 9009 and 9024, `7`s with a crossbar, read as `2`" (rows of the test split, as
    `misclassified.png` numbers them)."""
    named = {2654: ("6", "1"), 1226: ("7", "2"), 9009: ("7", "2"), 9024: ("7", "2")}
    assert "test row 2654, a `6` written like an `l`, read as `1`;" in prose("pipeline.md")
    assert "rows 1226, 9009 and 9024, `7`s with a crossbar, read as `2`." in prose("pipeline.md")
    for row, (actual, predicted) in named.items():
        assert (PREDICTIONS[row]["actual"], PREDICTIONS[row]["predicted"]) == (actual, predicted)


def test_the_original_weights_accuracy_is_quoted_alike_wherever_the_readme_gives_it():
    """README: the original script's weights "get 91.52 % on the official MNIST test set" (the
    opening; docs/configuration.md, `experiment=seed`): the figure docs/pipeline.md's "The
    original weights" prints, which
    `tests/test_recipes.py` measures on the real test set."""
    (printed,) = re.findall(
        r"original_weights evaluate examples/original_weights\n.*\n\naccuracy \*\*(\d+\.\d+)%\*\*",
        page("pipeline.md"),
    )
    assert f"these weights {printed}%, the pipeline's model" in page("pipeline.md")
    assert (
        f"(its weights, in `examples/original_weights/`, get {printed} % on the official" in PROSE
    )
    assert f"where the original script's own weights get {printed} % (see" in prose(
        "configuration.md"
    )


def test_the_readmes_register_examples_agree_with_its_winners_line_and_the_committed_run():
    """docs/tracking.md, "Compare" and "Model versions": the winners line's run and validation
    accuracy are the run `compare --register` registers, and `register 6cf74a97` (the `dvc repro`
    run) registers the committed model's validation accuracy."""
    tracking = page("tracking.md")
    ((accuracy, run),) = re.findall(
        r"\(val_accuracy (\d+\.\d+)%, run (\w{8})\)`", prose("tracking.md")
    )
    best = (
        f"registered run {run}\\w{{24}} as neuralscratch version 1 \\(val_accuracy (\\d\\.\\d+)\\)"
    )
    (registered,) = re.findall(best, tracking)
    assert f"{float(registered):.2%}" == f"{accuracy}%"
    val = METRICS["val"]["accuracy"]
    assert f"as neuralscratch version 3 (val_accuracy {val:.4f}); it beats the champion" in tracking


def test_the_readmes_sweep_speed_up_is_what_bench_sweep_measured():
    """docs/sweeps.md, "Learning-rate sweeps": `make bench-sweep`'s two modes, their ratio and the
    median epoch of each, as `reports/bench_sweep.json` holds them."""
    results = json.loads((PROJECT_ROOT / "reports" / "bench_sweep.json").read_text())
    sequential, parallel = results["sequential"]["seconds"], results["parallel"]["seconds"]
    quoted = f"**{sequential:.1f} s → {parallel:.1f} s ({results['speedup']:.2f} \u00d7)**"
    assert quoted in prose("sweeps.md")
    one, two = (
        f"{results[mode]['median_epoch_seconds']:.2f}" for mode in ("sequential", "parallel")
    )
    assert f"(median {one} s sequential and {two} s with joblib, from the seconds" in prose(
        "sweeps.md"
    )


FASHION_TARGETS = {
    "fashion": 0.885,
    "fashion_mlp": 0.90,
    "fashion_cnn": 0.92,
    "fashion_resnet": 0.94,
}
FASHION_REACHED = ("fashion", "fashion_mlp", "fashion_cnn")  # fashion_resnet: not yet


@pytest.mark.parametrize("recipe", sorted(FASHION_TARGETS))
def test_the_fashion_table_is_what_bench_recipes_measured(recipe):
    """docs/configuration.md, *Fashion-MNIST*: each recipe's row quotes reports/recipes.json;
    the rows that reach their target did, and the one that does not says so."""
    measured, target = RECIPES[recipe], FASHION_TARGETS[recipe]
    assert measured["test_n"] == 10_000
    reached = measured["test_accuracy"] >= target
    assert reached == (recipe in FASHION_REACHED)
    (row,) = [
        line
        for line in page("configuration.md").splitlines()
        if line.startswith("| ") and f"`experiment={recipe}`" in line.split(" | ")[0]
    ]
    verdict = "" if reached else ": not reached"
    accuracy = f"**{measured['test_accuracy'] * 100:.2f} %**{verdict}"
    assert f"| ≥ {target * 100:.1f} % | {accuracy} |" in row
    minutes = measured["training_seconds"] / 60
    epochs = f"{measured['epochs']} epochs of {measured['median_epoch_seconds']:.1f} s"
    assert f"| {minutes:.1f} min ({epochs}" in row
