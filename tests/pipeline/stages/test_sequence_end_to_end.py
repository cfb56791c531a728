"""Small versions of the LSTM and ViT recipes through the stages: train with checkpoints and a
bit-identical resume (gradient clipping; the ViT's AdamW, warm-up and dropout), evaluate's
report and figures, predict on a CSV, and the original-layout export refused."""

from pathlib import Path

import pytest
from PIL import Image

from pipeline.config import Config, compose, validate
from pipeline.stages.evaluate import evaluate
from pipeline.stages.predict import predict_csv
from pipeline.stages.train import write_outputs
from tests.conftest import tiny_overrides
from tests.pipeline.stages.test_cnn_end_to_end import (
    assert_resume_is_bit_identical,
    export_original_layout,
)

SMALLER = {  # the recipes' layers, smaller; the ViT's batches not moved (250 fake digits and
    # 4 epochs are too few for a transformer to learn anything through the moves)
    "lstm": [
        "model.layers=[{type:lstm,units:8,return_sequences:true},{type:gru,units:6},"
        "{type:dense,units:10}]",
    ],
    "vit": [
        "model.layers=[{type:patch_embed,patch:7,dim:16},{type:class_token},"
        "{type:position_embed},{type:transformer_block,heads:2,mlp_units:32,dropout:0.1},"
        "{type:layernorm},{type:token_pool},{type:dense,units:10}]",
        "data.augment.shift=0",
        "data.augment.rotate=0",
    ],
}


def recipe_config(recipe: str, folder: Path, csvs: tuple[Path, Path]) -> Config:
    shorthand = [o for o in tiny_overrides(folder, csvs, epochs=4) if "hidden_sizes" not in o]
    return validate(
        compose([*shorthand, f"experiment={recipe}", *SMALLER[recipe], "optimizer.lr=0.003"])
    )


@pytest.mark.parametrize("recipe", ["lstm", "vit"])
def test_recipe_resumes_evaluates_predicts_and_refuses_the_original_export(
    recipe, tmp_path, small_csvs
):
    cfg = recipe_config(recipe, tmp_path, small_csvs)
    network, history = assert_resume_is_bit_identical(cfg)
    write_outputs(cfg, network, history)
    metrics, _ = evaluate(cfg)
    assert metrics["test"]["accuracy"] > 0.1  # 4 epochs on 250 fake digits; chance is 0.1
    for png in ("first_layer.png", "activations.png"):
        with Image.open(Path(cfg.paths.reports) / png) as image:
            assert image.format == "PNG"
    summary = predict_csv(cfg.data.test_csv, cfg.paths.model, tmp_path / "submission.csv")
    assert summary.endswith(f"accuracy {metrics['test']['accuracy']:.2%}")
    result = export_original_layout(cfg.paths.model, tmp_path / "out")
    assert result.returncode == 1 and "layers[0]" in result.stderr, result.stderr
