"""docs/adding-a-layer.md, "How to add a layer": every excerpt it quotes is in the file it names,
word for word; the code it gives a learner runs (a layer registered, tested, built into a network
and gradient-checked, and a broken copy caught); the commands it shows are accepted and print
what it shows; what it says comes for free is true of layer norm.

The page marks a code block with an HTML comment on the line before it (then a blank line):
``<!-- excerpt: path -->``, lines copied from that file; ``<!-- new file: path -->``, a file
the learner writes. Every other ``python`` block is run, in order, in one namespace."""

import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import pytest
import yaml

import scratchnn as sn
from pipeline.config import PROJECT_ROOT, ConfigError, compose, validate
from pipeline.network.factory import build_network, check_model
from pipeline.tracking.logged_model import architecture_tags
from pipeline.tracking.mlflow_runs import run_params
from scratchnn.layer_paths import named_layers
from scratchnn.layers.base import LAYER_TYPES
from tests.conftest import write_digits_csv
from tests.guides import page

GUIDE = page("adding-a-layer.md")
PROSE = " ".join(GUIDE.split())
BLOCK = re.compile(
    r"^(?:<!-- (excerpt|new file): ([\w/.-]+) -->\n\n)?```(\w+)\n(.*?)^```$",
    flags=re.DOTALL | re.MULTILINE,
)
TOOL = "python -m pipeline.tools.gradcheck"


class Block(NamedTuple):
    mark: str  # "excerpt", "new file", or "" (python: run)
    path: str
    language: str
    text: str


def blocks() -> list[Block]:
    return [Block(m or "", p or "", lang, text) for m, p, lang, text in BLOCK.findall(GUIDE)]


def commands() -> list[tuple[list[str], list[str]]]:
    """Each ``$ `` line of the console blocks, split as a shell splits it, with the lines it
    prints (up to the next command)."""
    found: list[tuple[list[str], list[str]]] = []
    for block in blocks():
        if block.language != "console":
            continue
        for line in block.text.splitlines():
            if line.startswith("$ "):
                found.append((shlex.split(line[2:]), []))
            else:
                found[-1][1].append(line)
    return found


def gradcheck_overrides() -> list[str]:
    """The Hydra overrides of the page's gradcheck run (the one with its output)."""
    (run,) = [(words, out) for words, out in commands() if " ".join(words[:3]) == TOOL and out]
    return run[0][3:]


def test_the_page_is_in_the_nav_after_the_library():
    nav = yaml.safe_load((PROJECT_ROOT / "mkdocs.yml").read_text())["nav"]
    pages = [next(iter(entry.values())) for entry in nav]
    assert pages[pages.index("library.md") + 1] == "adding-a-layer.md"
    assert "(adding-a-layer.md)" in page("library.md")


def test_every_excerpt_is_word_for_word_in_the_file_it_names():
    """Whole lines, one after the other, as they are in the file: the guide cannot drift from
    the code it explains."""
    excerpts = [block for block in blocks() if block.mark == "excerpt"]
    assert len(excerpts) >= 15
    assert {"scratchnn/layers/layernorm.py", "tests/scratchnn/test_layernorm.py"} <= {
        block.path for block in excerpts
    }
    for block in excerpts:
        source = (PROJECT_ROOT / block.path).read_text()
        assert block.text.endswith("\n") and f"\n{block.text}" in f"\n{source}", block
    # no marker is lost to a typo: each one precedes a block the pattern read
    assert GUIDE.count("<!-- ") == sum(1 for block in blocks() if block.mark)


@pytest.fixture
def registry() -> Iterator[None]:
    """The page registers a layer of its own: the registry is as it was afterwards, so no other
    test (in this worker) sees it."""
    saved = dict(LAYER_TYPES)
    LAYER_TYPES.pop("rmsnorm", None)
    try:
        yield
    finally:
        LAYER_TYPES.clear()
        LAYER_TYPES.update(saved)


def test_the_learners_layer_runs_passes_its_tests_and_the_check_catches_a_broken_one(registry):
    """The page's own layer (RMSNorm): registered, its three tests pass, inside a network its
    gradients pass the check, a copy without one term is named as failing; and the command the
    page gives for it is accepted by the configuration."""
    namespace: dict = {}
    runnable = [block.text for block in blocks() if block.language == "python" and not block.mark]
    assert len(runnable) == 4
    for i, code in enumerate(runnable):
        exec(compile(code, f"docs/adding-a-layer.md, block {i + 1}", "exec"), namespace)
    assert LAYER_TYPES["rmsnorm"] is namespace["RMSNorm"]
    tests = {name: f for name, f in namespace.items() if name.startswith("test_")}
    assert set(tests) == {
        "test_gradients_match_finite_differences",
        "test_float32_stays_float32",
        "test_bad_eps_is_named",
    }
    for test in tests.values():
        test()
    assert namespace["failing_layers"](namespace["checks"]) == ["1_rmsnorm"]
    assert namespace["network"].describe()["layers"][1] == {"type": "rmsnorm", "eps": 1e-6}
    (words,) = [w for w, _ in commands() if "{type: rmsnorm}" in " ".join(w)]
    assert " ".join(words[:3]) == TOOL and len(words) == 4
    cfg = validate(compose(words[3:]))
    check_model(cfg)
    assert "rmsnorm" in [layer.type_name for layer in build_network(cfg, 784, 10).layers]


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.tools.gradcheck", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_options_the_page_names_are_the_tools():
    result = run_tool("--help")
    assert result.returncode == 0, result.stderr
    named = set(re.findall(r"`(--[a-z]+)`", GUIDE))
    assert named == {"--images", "--samples", "--threshold", "--help"}
    assert all(option in result.stdout for option in named)
    assert "(default 4)" in result.stdout and "(default 12)" in result.stdout
    assert "`--images` sets how many images (4), `--samples` how many coordinates" in PROSE
    assert "of each array (12), `--threshold` the largest relative error that passes (1e-5)" in (
        PROSE
    )


def normalised(lines: list[str]) -> list[str]:
    """The tool's lines without what depends on the images: where they came from, the errors,
    and the coordinates left out at a kink."""
    lines = [re.sub(r" from \S+, ", " from <images>, ", line) for line in lines]
    lines = [re.sub(r"\d\.\de[-+]\d\d", "<error>", line) for line in lines]
    return [re.sub(r", \d+ at a kink", "", line) for line in lines]


def test_the_gradcheck_run_prints_what_the_page_shows(tmp_path):
    """The page's command, as written, on a few generated digits (the overrides only say where
    they are): it passes, and prints the same lines, layer by layer and array by array."""
    ((words, shown),) = [(w, out) for w, out in commands() if " ".join(w[:3]) == TOOL and out]
    assert words[3:] == gradcheck_overrides() and len(words) == 4  # the overrides alone
    csv = tmp_path / "train.csv"
    write_digits_csv(csv, 8, seed=3)
    result = run_tool(*words[3:], f"data.train_csv={csv}", f"paths.prepared={tmp_path / 'none'}")
    assert result.returncode == 0, result.stderr
    assert normalised(result.stdout.splitlines()) == normalised(shown)
    assert shown[0].startswith("gradient check: 4 images from data/prepared, float64, ")
    assert shown[-1].startswith("passed: the largest relative error is ")


def test_the_model_file_composes_and_dvc_exp_run_takes_it(tmp_path, monkeypatch):
    """The page's conf/model file, written into a copy of conf/: `model=<its name>` composes,
    passes the stages' check and builds the layers it lists."""
    (new_file,) = [block for block in blocks() if block.mark == "new file"]
    conf = tmp_path / "conf"
    shutil.copytree(PROJECT_ROOT / "conf", conf)
    written = tmp_path / new_file.path
    assert written.parent == conf / "model"
    written.write_text(new_file.text)
    monkeypatch.setattr("pipeline.config.CONF_DIR", conf)
    runs = [words for words, _ in commands() if words[:3] == ["dvc", "exp", "run"]]
    assert runs == [["dvc", "exp", "run", "-S", f"model={written.stem}"]]
    assert f"`{TOOL} model={written.stem}`" in GUIDE
    cfg = validate(compose([runs[0][4]]))
    check_model(cfg)
    network = build_network(cfg, 784, 10)
    listed = [spec["type"] for spec in yaml.safe_load(new_file.text)["layers"]]
    assert [layer.type_name for layer in network.layers] == listed
    assert listed.count("layernorm") == 2 and network.input_shape == (784,)
    # "`model=cnn` has one, so there `model.layers=[...]` replaces it": no `+` there
    assert (
        "with `+`, since the default `model=mlp` has no `layers` key; `model=cnn` has one" in PROSE
    )
    (overrides,) = gradcheck_overrides()
    replaced = validate(compose(["model=cnn", overrides.removeprefix("+")]))
    assert [spec["type"] for spec in replaced.model.layers] == [
        "dense",
        "layernorm",
        "relu",
        "dense",
    ]


def with_layer(spec: str) -> list[str]:
    """The page's gradcheck overrides with its layer norm (layers[1]) replaced by ``spec``."""
    (overrides,) = gradcheck_overrides()
    assert "{type: layernorm}" in overrides
    return [overrides.replace("{type: layernorm}", spec)]


@pytest.mark.parametrize(
    "spec",
    [
        "{type: layernorm, eps: 0}",
        "{type: layernorm, eps: small}",
        "{type: layernorm, epsilon: 0.1}",
        "{type: residual, layers: [{type: layernorm, eps: -1}, {type: dense, units: 32}]}",
    ],
)
def test_a_bad_setting_is_refused_naming_the_nested_key(spec):
    """The messages the page quotes, as `train` prints them (after ``params.yaml: ``)."""
    with pytest.raises(ConfigError) as refused:
        check_model(validate(compose(with_layer(spec))))
    message = str(refused.value)
    assert message.startswith("params.yaml: model.layers[1]")
    quoted = message.removeprefix("params.yaml: ")
    if "residual" in spec:
        quoted = quoted.split(" is not allowed: ")[0] + " is not allowed: ..."
    assert f"`{quoted}`" in PROSE


def test_what_comes_for_free_is_true_of_layer_norm(tmp_path):
    """For the network of the page's gradcheck command: the architecture JSON and the arrays'
    names in the weights file, loading by name, MLflow's params and tag, the per-layer
    statistics, weight decay left off gamma and beta, the gradient check's layer name."""
    cfg = validate(compose(gradcheck_overrides()))
    network = build_network(cfg, 784, 10)
    path = tmp_path / "model.npz"
    sn.save_weights(network, path)
    with np.load(path) as saved:
        architecture = json.loads(str(saved["architecture"]))
        assert {"layer2_gamma", "layer2_beta"} <= set(saved.files)
    spec = json.dumps(architecture["layers"][1])
    assert spec == '{"type": "layernorm", "eps": 1e-05}' and f"`{spec}`" in PROSE
    loaded = sn.load_weights(path)
    assert isinstance(loaded.layers[1], sn.LayerNorm) and loaded.layers[1].eps == 1e-5

    params = run_params(cfg)
    assert params["model.layers.1.type"] == "layernorm" and "model.layers.1.eps" not in params
    given = run_params(validate(compose(with_layer("{type: layernorm, eps: 0.001}"))))
    assert given["model.layers.1.eps"] == 0.001
    assert "(`model.layers.1.type` is `layernorm`;" in PROSE and "`model.layers.1.eps`" in PROSE
    tag = architecture_tags(network)["model.architecture"]
    assert f"`model.architecture` reads `{tag}`" in PROSE
    logged = (PROJECT_ROOT / "pipeline" / "tracking" / "logged_model.py").read_text()
    assert "code_paths=[str(Path(sn.__file__).parent)]" in logged

    x = np.random.default_rng(0).random((16, 784), dtype=np.float32)
    dynamics = sn.LayerDynamics(network, x[:8])
    loss = sn.SoftmaxCrossEntropy(10, network.dtype)
    loss.forward(network.forward(x, training=True), np.arange(16) % 10)
    network.backward(loss.backward())
    sn.SGD().step(network.params, network.grads, 0.01)
    dynamics.on_batch_end(1, 1)
    measured = {key for key in dynamics.epoch_end() if key.startswith("layers/1_layernorm/")}
    quoted = set(re.findall(r"`(layers/1_layernorm/\w+)`", GUIDE))
    assert quoted == measured and len(quoted) == 5

    dense = 784 * 32 + 32  # the first layer's weights (decayed) and biases, then gamma and beta
    assert network.decay_mask[: 784 * 32].all() and not network.decay_mask[dense : dense + 64].any()
    assert "1_layernorm" in [name for name, _ in named_layers(network.layers)]
