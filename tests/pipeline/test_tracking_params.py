"""How the configuration becomes MLflow params: one key per setting, each layer's too, and no
local path."""

from pipeline.config import compose, validate
from pipeline.tracking.mlflow_runs import config_tree, flatten, run_params


def test_each_layer_setting_is_its_own_param():
    params = flatten(config_tree(validate(compose(["model=cnn"]))))
    assert params["model.layers.0.type"] == "conv2d"
    assert params["model.layers.0.filters"] == 16 and params["model.layers.0.padding"] == 2
    assert params["model.layers.9.units"] == 10
    assert params["model.input_shape"] == [28, 28, 1]  # a list of numbers stays one value
    assert not any(
        isinstance(value, dict | list) and key.endswith("layers") for key, value in params.items()
    )


def test_the_mlp_shorthand_keeps_its_keys():
    params = flatten(config_tree(validate(compose([]))))
    assert params["model.hidden_sizes"] == [128, 64] and params["optimizer.lr"] == 0.002
    assert params["model.layers"] is None and params["data.augment.shift"] == 0


def test_a_residual_blocks_layers_are_numbered_inside_it():
    params = flatten(config_tree(validate(compose(["experiment=resnet"]))))
    assert params["model.layers.3.type"] == "residual"
    assert params["model.layers.3.layers.0.filters"] == 16
    assert params["model.layers.7.layers.0.stride"] == 2
    assert params["model.layers.3.layers.1.type"] == "batchnorm"
    assert params["optimizer.name"] == "adamw" and params["optimizer.weight_decay"] == 0.05
    assert params["schedule.warmup_epochs"] == 1 and params["train.clip_norm"] is None


def test_no_local_path_is_a_run_parameter():
    """paths.* (where one machine keeps its files) are left out; every other setting stays."""
    cfg = validate(compose(["paths.model=/home/someone/models/model.npz"]))
    params = run_params(cfg)
    everything = flatten(config_tree(cfg))
    assert everything["paths.model"] == "/home/someone/models/model.npz"
    assert params == {
        key: value for key, value in everything.items() if key.split(".")[0] != "paths"
    }
    assert "optimizer.lr" in params and "data.val_size" in params
