"""train's first checks on small generated CSVs: printed, handed to the logger, and without any
effect on the weights training writes."""

import numpy as np

from pipeline.config import compose, validate
from pipeline.stages.prepare import prepare
from pipeline.stages.train import train
from tests.conftest import tiny_overrides


def test_first_checks_are_printed_logged_and_leave_training_alone(tmp_path, small_csvs, capsys):
    overrides = tiny_overrides(tmp_path, small_csvs, epochs=1)
    prepare(validate(compose(overrides)))
    logged: list[dict[str, float]] = []

    def log_checks(values: dict[str, float], step: int) -> None:
        if step == 0:
            logged.append(values)

    plain, _ = train(validate(compose(overrides)), log_metrics=log_checks)
    checked, _ = train(
        validate(compose([*overrides, "train.overfit_batch=20"])), log_metrics=log_checks
    )
    out = capsys.readouterr().out
    assert "initial loss" in out and "ln(10) = 2.303" in out
    assert "overfit check: memorised 20 images in" in out
    assert set(logged[0]) == {"checks/initial_loss"}
    assert logged[1]["checks/overfit_steps"] >= 1 and logged[1]["checks/overfit_final_loss"] < 0.05
    assert logged[0]["checks/initial_loss"] == logged[1]["checks/initial_loss"]
    np.testing.assert_array_equal(plain.params, checked.params)  # bit for bit
