"""Fuzzing what reads configuration and models from outside, as the CSV reader is fuzzed:
``params.yaml`` edited by hand, Hydra overrides on the command line, and ``.npz`` model files.
The property: each is read, or refused with one line (a ``PipelineError`` or the library's
``WeightsError``: what the entry points print as ``error: ...``), never another exception, and
nothing is written. How long it runs is the Hypothesis profile's (tests/conftest.py)."""

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import scratchnn as sn
from pipeline.config import Config, ConfigError, compose, load_params, to_yaml, validate
from pipeline.network.models import load_model

DEFAULT = yaml.safe_load(to_yaml(compose([])))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**18, max_value=10**400),  # beyond int64, beyond a float
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["???", "${oops}", "${optimizer.lr}", "1e999", "float16", "relu", "-0"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def key_paths(tree: dict, prefix: tuple = ()) -> list[tuple]:
    paths = []
    for key, value in tree.items():
        paths.append((*prefix, key))
        if isinstance(value, dict):
            paths += key_paths(value, (*prefix, key))
    return paths


KEYS = key_paths(DEFAULT)


def refused_in_one_line(read, *errors: type[Exception]):
    """``read()``'s result, or None when it refused in one line with one of ``errors``."""
    try:
        return read()
    except errors as error:
        assert "\n" not in str(error) and str(error), repr(error)
        return None


def only(folder: Path, *names: str) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)  # nothing written


@given(
    changes=st.lists(st.tuples(st.sampled_from(KEYS), values), min_size=1, max_size=3),
    extra=st.dictionaries(st.text(min_size=1, max_size=10), values, max_size=2),
)
def test_params_yaml_edited_by_hand(tmp_path_factory, changes, extra):
    folder = tmp_path_factory.mktemp("params")
    params = json.loads(json.dumps(DEFAULT))
    for path, value in changes:
        parent = params
        for key in path[:-1]:
            parent = parent[key] if isinstance(parent.get(key), dict) else {}
        parent[path[-1]] = value
    params.update(extra)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True))
    cfg = refused_in_one_line(lambda: load_params(folder / "params.yaml"), ConfigError)
    assert cfg is None or isinstance(cfg, Config)
    only(folder, "params.yaml")


RAW_TEXTS = [
    "optimizer: &o {name: adam, lr: 0.001}\nschedule: *o\n",  # an anchor where it does not fit
    "a: &a [*a]\n",  # an alias of itself
    "lol: &x [1, 1]\nl2: &y [*x, *x, *x, *x]\nl3: &z [*y, *y, *y, *y]\nl4: [*z, *z, *z, *z]\n",
    "[" * 5000 + "]" * 5000,  # deep nesting
    "{a: " * 2000 + "1" + "}" * 2000,
    "train: {epochs: 99999999999999999999999999999}\n",
    "optimizer: {lr: .inf}\n",
    "!!python/object/apply:os.system ['true']\n",
    "%YAML 9.9\n---\na: 1\n",
    "\x00\x01",
    "",
    "- 1\n- 2\n",
    "optimizer: !!binary aGVsbG8=\n",
]


@pytest.mark.parametrize("text", RAW_TEXTS, ids=range(len(RAW_TEXTS)))
def test_params_yaml_that_is_barely_yaml(tmp_path, text):
    (tmp_path / "params.yaml").write_text(text)
    merged = DEFAULT | (yaml.safe_load(text) if text.startswith("train:") else {})
    if merged is not DEFAULT:
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(merged))
    cfg = refused_in_one_line(lambda: load_params(tmp_path / "params.yaml"), ConfigError)
    assert cfg is None or isinstance(cfg, Config)
    only(tmp_path, "params.yaml")


override_values = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "'x",
            '"x',
            "[1,2",
            "[1,'a']",
            "null",
            "{a: 1}",
            "${oops}",
            "1e999",
            "nope",
            "[]",
            "'",
            "\\",
        ]
    ),
)


@given(
    key=st.sampled_from(
        [".".join(path) for path in KEYS] + ["optimizer", "+optimzer.lr", "~train"]
    ),
    value=override_values,
)
def test_hydra_overrides_on_the_command_line(key, value):
    """What `neuralscratch-params key=value` composes (`dvc exp run -S` composes in DVC)."""

    def read():
        return validate(yaml.safe_load(to_yaml(compose([f"{key}={value}"]))))

    cfg = refused_in_one_line(read, ConfigError)
    assert cfg is None or isinstance(cfg, Config)


def model_file() -> dict[str, np.ndarray]:
    network = sn.mlp([784, 8, 10], rng=np.random.default_rng(0))
    buffer = io.BytesIO()
    sn.save_weights(network, buffer)
    buffer.seek(0)
    with np.load(buffer) as npz:
        return {key: npz[key] for key in npz.files}


MODEL = model_file()
ARCHITECTURE = json.loads(str(MODEL["architecture"]))


@st.composite
def damaged_models(draw) -> dict[str, np.ndarray]:
    arrays = dict(MODEL)
    damage = draw(st.sampled_from(["json", "drop", "extra", "dtype", "shape", "architecture"]))
    names = sorted(arrays)
    if damage == "json":
        text = json.dumps(ARCHITECTURE)
        cut = draw(st.integers(0, len(text)))
        arrays["architecture"] = np.array(text[:cut] + draw(st.text(max_size=5)))
    elif damage == "drop":
        del arrays[draw(st.sampled_from(names))]
    elif damage == "extra":
        arrays[draw(st.text(min_size=1, max_size=8).filter(lambda k: "/" not in k))] = np.zeros(3)
    elif damage == "dtype":
        key = draw(st.sampled_from([n for n in names if n != "architecture"]))
        kind = draw(st.sampled_from(["int8", "complex64", "bool", "float16", "U3", "uint64"]))
        arrays[key] = arrays[key].astype(kind)
    elif damage == "shape":
        key = draw(st.sampled_from([n for n in names if n != "architecture"]))
        arrays[key] = arrays[key].reshape(-1)[: draw(st.integers(0, arrays[key].size))]
    else:
        changed = json.loads(json.dumps(ARCHITECTURE))
        path = draw(st.sampled_from(sorted(key_paths(changed))))
        parent = changed
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = draw(values)
        arrays["architecture"] = np.array(json.dumps(changed))
    return arrays


@given(arrays=damaged_models())
def test_model_files_damaged(tmp_path_factory, arrays):
    folder = tmp_path_factory.mktemp("model")
    np.savez(folder / "model.npz", **arrays)
    network = refused_in_one_line(lambda: load_model(folder / "model.npz"), sn.WeightsError)
    assert network is None or network.n_outputs == 10
    only(folder, "model.npz")


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path):
    """A member that unpacks to 4 GB from a few MB of zeros: refused by its declared size."""
    path = tmp_path / "model.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("architecture.npy", _npy(MODEL["architecture"]))
        header = _npy(np.zeros(0, np.float32)).replace(b"(0,)", b"(1073741824,)")
        with archive.open("layer1_weights.npy", "w", force_zip64=True) as member:
            member.write(header)
            zeros = bytes(1 << 24)
            for _ in range(256):
                member.write(zeros)
    assert path.stat().st_size < 10_000_000
    with pytest.raises(sn.WeightsError, match=r"layer1_weights\.npy unpacks to 4,294,967,"):
        load_model(path)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()
