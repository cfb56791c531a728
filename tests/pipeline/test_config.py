import pytest
from omegaconf import OmegaConf

from pipeline.config import (
    PARAMS_FILE,
    PROJECT_ROOT,
    ConfigError,
    OptimizerName,
    compose,
    load_params,
    to_yaml,
    validate,
)
from pipeline.network.factory import build_schedule


def test_params_yaml_is_the_composition_of_conf():
    """params.yaml is what DVC tracks; conf/ is the source. Regenerate: make params"""
    assert (PROJECT_ROOT / PARAMS_FILE).read_text() == to_yaml(compose())


def test_params_yaml_loads_and_validates():
    cfg = load_params(PROJECT_ROOT / PARAMS_FILE)
    assert cfg.model.hidden_sizes == [128, 64]
    assert cfg.optimizer.name is OptimizerName.adam


def test_the_default_recipe_is_the_readmes():
    """docs/configuration.md, "The default recipe": 784 -> 128 -> ReLU -> 64 -> ReLU -> 10, He
    initialisation, Adam (lr 0.002) with a cosine schedule over 20 epochs, mini-batches of 128, L2
    weight decay 5e-4, float32; 5,000 validation rows."""
    cfg = validate(compose())
    assert cfg.model.hidden_sizes == [128, 64] and cfg.model.layers is None
    assert cfg.model.activation.value == "relu" and cfg.model.initializer.value == "he_normal"
    assert cfg.model.dropout == 0.0 and not cfg.model.batch_norm
    assert cfg.optimizer.name is OptimizerName.adam and cfg.optimizer.lr == 0.002
    assert cfg.schedule.name.value == "cosine" and cfg.train.epochs == 20
    assert cfg.train.batch_size == 128 and cfg.train.weight_decay == 5e-4
    assert cfg.dtype.value == "float32" and cfg.data.val_size == 5000


def test_experiment_seed_is_the_original_recipe():
    cfg = validate(compose(["experiment=seed"]))
    assert cfg.dtype.value == "float64"
    assert cfg.optimizer.name is OptimizerName.sgd and cfg.optimizer.lr == 0.1
    assert cfg.train.epochs == 300 and cfg.train.batch_size is None
    assert cfg.train.weight_decay == 0.0
    assert cfg.model.initializer.value == "scaled_normal" and cfg.model.init_scale == 0.10
    assert cfg.model.hidden_sizes == [128, 64]
    assert cfg.data.val_size == 1000
    schedule = build_schedule(cfg)  # lr0 / (1 + (lr0 / epochs) * epoch)
    assert schedule(0) == 0.1
    assert schedule(299) == pytest.approx(0.1 / (1 + 0.1 / 300 * 299), rel=1e-12)


def raw_with(dotted: str, value) -> dict:
    raw = OmegaConf.to_container(compose())
    node = raw
    *parents, leaf = dotted.split(".")
    for key in parents:
        node = node[key]
    node[leaf] = value
    return raw


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("optimizer.lr", 0.0, r"optimizer.lr=0.0 is not allowed: it must be > 0"),
        ("optimizer.lr", -1.0, r"optimizer.lr=-1.0"),
        ("train.epochs", 0, r"train.epochs=0 .* >= 1"),
        ("train.epochs", "ten", r"train.epochs.*'ten'"),
        ("train.batch_size", 0, r"train.batch_size=0 .* or null for full batch"),
        ("model.hidden_sizes", [], r"model.hidden_sizes=\[\] .* at least one"),
        ("model.hidden_sizes", [128, 0], r"model.hidden_sizes\[1\]=0"),
        ("optimizer.name", "lamb", r"optimizer.name.*lamb.*(sgd|SGD)"),
        ("optimizer.weight_decay", -0.1, r"optimizer.weight_decay=-0.1 is not allowed: .* >= 0"),
        (
            "schedule.warmup_epochs",
            -1,
            r"schedule.warmup_epochs=-1 is not allowed: it must be >= 0",
        ),
        (
            "schedule.warmup_epochs",
            20,
            r"schedule.warmup_epochs=20 .* at least one of train.epochs",
        ),
        ("train.clip_norm", 0.0, r"train.clip_norm=0.0 is not allowed: .* or null for no clipping"),
        ("schedule.name", "linear", r"schedule.name.*linear.*cosine"),
        ("data.val_size", 0, r"data.val_size=0"),
        ("dtype", "float16", r"dtype.*float16"),
        ("optimizer.lr", float("inf"), r"optimizer.lr=inf is not allowed: it must be a finite"),
        ("optimizer.lr", float("nan"), r"optimizer.lr=nan is not allowed: it must be a finite"),
        ("train.weight_decay", float("inf"), r"train.weight_decay=inf .* finite"),
        ("schedule.decay", float("-inf"), r"schedule.decay=-inf .* finite"),
        ("data.augment.rotate", float("nan"), r"data.augment.rotate=nan .* finite"),
        ("data.augment.elastic", -1.0, r"data.augment.elastic=-1.0 is not allowed: .* >= 0"),
        ("data.augment.scale", 1.0, r"data.augment.scale=1.0 is not allowed: .* \[0, 1\)"),
        ("data.augment.scale", -0.1, r"data.augment.scale=-0.1 is not allowed: .* \[0, 1\)"),
        ("data.augment.elastic_sigma", 0.0, r"data.augment.elastic_sigma=0.0 .* > 0"),
        ("optimizer.eps", float("inf"), r"optimizer.eps=inf .* finite"),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(key, value, message):
    with pytest.raises(ConfigError, match=message):
        validate(raw_with(key, value))


def test_unknown_key_is_named():
    raw = OmegaConf.to_container(compose())
    raw["optimizer"]["momentun"] = 0.9
    with pytest.raises(ConfigError, match=r"optimizer.momentun.*allowed keys: name, lr, momentum"):
        validate(raw)


def test_missing_key_is_named():
    raw = OmegaConf.to_container(compose())
    del raw["train"]["epochs"]
    with pytest.raises(ConfigError, match=r"train.epochs"):
        validate(raw)


def test_params_file_problems_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"no such file"):
        load_params(tmp_path / "params.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML"):
        load_params(bad)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(to_yaml(compose(["train.epochs=3"])).replace("epochs: 3", "epochs: ten"))
    with pytest.raises(ConfigError, match=r"wrong.yaml: train.epochs"):
        load_params(wrong)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e999"])
def test_non_finite_numbers_from_the_command_line_are_refused(value):
    """``dvc exp run -S optimizer.lr=inf``: Hydra reads inf, nan and 1e999 as floats."""
    with pytest.raises(
        ConfigError, match=r"^optimizer.lr=(-?inf|nan) is not allowed: it must be a"
    ):
        validate(compose([f"optimizer.lr={value}"]))


def test_non_finite_numbers_in_explicit_layers_are_refused():
    raw = OmegaConf.to_container(compose(["model=cnn"]))
    raw["model"]["layers"].insert(7, {"type": "dropout", "rate": float("inf")})
    with pytest.raises(ConfigError, match=r"^model.layers\[7\].rate=inf is not allowed: .* finite"):
        validate(raw)


def test_flips_are_refused_for_digits_naming_the_key():
    with pytest.raises(ConfigError, match=r"data.augment.flip=True is not allowed: a mirrored"):
        validate(compose(["data.augment.flip=true"]))
    cfg = validate(compose(["data=fashion_mnist", "data.augment.flip=true"]))
    assert cfg.data.augment.flip and cfg.data.name.value == "fashion_mnist"
