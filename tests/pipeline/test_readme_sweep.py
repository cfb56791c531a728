"""docs/sweeps.md, "Learning-rate sweeps with Hydra multirun" and "Jobs that fail or are killed",
and docs/tracking.md, "Secrets are never written down": what a sweep's job and its parent run do, on
the sweep tool's own functions (a whole sweep, minutes of Hydra and MLflow start-up per case, is run
by tests/pipeline/test_tracking.py, tests/pipeline/test_readme_claims.py and tests/cluster/)."""

import math
import os
import re
import signal
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf, open_dict

from pipeline.config import PROJECT_ROOT, compose, validate
from pipeline.stages.prepare import prepare
from pipeline.tools import sweep, sweep_job
from pipeline.tools.hydra_records import redact_job_records
from pipeline.tools.sweep_parent import parent_status
from tests.conftest import hydra_config, tiny_overrides
from tests.guides import page

SWEEPS = page("sweeps.md")
SECRET = "planted-s3cr3t-value"


def test_a_job_reuses_the_prepared_data_only_when_its_settings_match(tmp_path, small_csvs):
    """docs/sweeps.md: "the sweep reuses the prepared data when its data settings match": a job of
    another learning rate or augmentation trains on the shared arrays; other data settings or
    another dtype prepare their own in the job's folder; the model and reports are the job's
    always."""
    base = tiny_overrides(tmp_path, small_csvs)
    prepare(validate(compose(base)))
    shared = str(tmp_path / "prepared")
    job_dir = tmp_path / "multirun" / "0"
    for extra, reused in [
        ([], True),
        (["optimizer.lr=0.01"], True),
        (["data.augment.shift=2"], True),
        (["data.val_size=60"], False),
        (["data.seed=1"], False),
        (["dtype=float64"], False),
    ]:
        cfg, needs_prepare = sweep_job.job_config(validate(compose([*base, *extra])), job_dir)
        assert needs_prepare is not reused, extra
        assert cfg.paths.prepared == (shared if reused else str(job_dir / "prepared")), extra
        assert cfg.paths.model == str(job_dir / "model.npz")
        assert cfg.paths.reports == str(job_dir / "reports")


def test_the_default_sweep_folder_is_multirun_date_time():
    """docs/sweeps.md: "Each job trains and evaluates into its own folder
    `multirun/<date>/<time>/<n>/`"."""
    raw = hydra_config("optimizer.lr=0.01")
    with open_dict(raw):
        raw.hydra.job.num = 3
    sweep_dir = OmegaConf.to_container(raw.hydra.sweep, resolve=True)
    assert re.fullmatch(r"multirun/\d{4}-\d{2}-\d{2}/\d{2}-\d{2}-\d{2}", sweep_dir["dir"])
    assert sweep_dir["subdir"] == "3"
    assert sweep.sweep_id(Path("multirun/2026-11-25/16-05-12")) == "2026-11-25/16-05-12"
    # a job's run is named after the swept values only
    name = sweep_job.run_name(["optimizer.lr=0.05", "train.epochs=3"], ["optimizer.lr"], 1)
    assert name == "optimizer.lr=0.05"


def test_the_optuna_search_maximises_lr_and_batch_size_in_8_trials():
    """`hparams_search=optuna`: "over `optimizer.lr` and `train.batch_size`, 8 trials",
    maximising what a job returns."""
    sweeper = hydra_config("hparams_search=optuna").hydra.sweeper
    assert "optuna" in sweeper._target_.lower()
    assert sweeper.direction == "maximize" and sweeper.n_trials == 8
    assert set(sweeper.params) == {"optimizer.lr", "train.batch_size"}


def test_a_job_returns_its_final_validation_accuracy(tmp_path, small_csvs):
    overrides = [*tiny_overrides(tmp_path, small_csvs, epochs=2), "tracking.enabled=false"]
    cfg = validate(compose(overrides))
    returned = sweep_job.run_job(cfg, "job", tmp_path / "job", None)
    history = (tmp_path / "job" / "reports" / "history.csv").read_text().splitlines()
    header, last = history[0].split(","), history[-1].split(",")
    assert returned == pytest.approx(float(last[header.index("val_accuracy")]), abs=1e-6)


def test_a_diverging_job_prints_the_readmes_line_and_returns_nan(tmp_path, small_csvs, capsys):
    """docs/sweeps.md: "job 'optimizer.lr=1e+30': training diverged in epoch 1: the loss is nan; try
    a smaller learning rate", and the sweep goes on (the job returns NaN instead of raising)."""
    (shown,) = re.findall(r"^job 'optimizer.lr=1e\+30': .*$", SWEEPS, flags=re.MULTILINE)
    overrides = [*tiny_overrides(tmp_path, small_csvs), "tracking.enabled=false"]
    cfg = validate(compose([*overrides, "optimizer=sgd", "optimizer.lr=1e30"]))
    returned = sweep_job.run_job(cfg, "optimizer.lr=1e+30", tmp_path / "job", None)
    assert math.isnan(returned)
    assert capsys.readouterr().err.splitlines()[-1] == shown


def test_hydras_records_lose_their_secrets_and_keep_the_rest(tmp_path):
    """Hydra writes the overrides as given into multirun.yaml and each job's .hydra/; the job
    rewrites them masked, so `++hydra.job.env_set.API_TOKEN=...` reaches the job's
    environment (Hydra sets it from the config it already read) but no file."""
    overrides = [f"++hydra.job.env_set.API_TOKEN={SECRET}", "optimizer.lr=0.01"]
    raw = hydra_config(*overrides)
    sweep_dir, job_dir = tmp_path / "multirun", tmp_path / "multirun" / "0"
    with open_dict(raw):
        raw.hydra.sweep.dir = str(sweep_dir)
        raw.hydra.runtime.output_dir = str(job_dir)
        raw.hydra.overrides.task = overrides
    assert raw.hydra.job.env_set.API_TOKEN == SECRET
    records = job_dir / raw.hydra.output_subdir
    records.mkdir(parents=True)
    OmegaConf.save(raw, sweep_dir / "multirun.yaml")  # as Hydra writes them
    OmegaConf.save(raw.hydra, records / "hydra.yaml")
    OmegaConf.save(OmegaConf.create(overrides), records / "overrides.yaml")
    job = OmegaConf.masked_copy(raw, [k for k in raw if k != "hydra"])
    OmegaConf.save(job, records / "config.yaml")

    redact_job_records(raw)
    files = [sweep_dir / "multirun.yaml", *(records / n for n in ("hydra.yaml", "overrides.yaml"))]
    for path in files:
        text = path.read_text()
        assert SECRET not in text, path
        assert "optimizer.lr=0.01" in text, path  # the rest as given
    assert yaml.safe_load((records / "overrides.yaml").read_text()) == [
        "++hydra.job.env_set.API_TOKEN=***",
        "optimizer.lr=0.01",
    ]
    assert yaml.safe_load((records / "hydra.yaml").read_text())["job"]["env_set"] == {
        "API_TOKEN": "***"
    }


def readme_parent_table() -> list[tuple[str, str, str]]:
    table = SWEEPS.split("| the sweep | the parent run | its `error` tag |", 1)[1]
    rows = []
    for line in table.split("\n\n", 1)[0].splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows.append((cells[0], cells[1], cells[2].strip("`")))
    return rows


# each row of the guide's table as the counts of child runs and how the sweep ended
CASES = {
    "every job FINISHED": ({"FINISHED": 2}, True, False),
    "a job FAILED, none KILLED": ({"FINISHED": 1, "FAILED": 1}, True, False),
    "a job KILLED (`scancel`, its time limit)": ({"KILLED": 2}, False, False),
    "the sweep process stopped (Ctrl-C, SIGTERM)": ({"FINISHED": 1, "RUNNING": 1}, False, True),
    "the sweep stopped on an error": ({"FINISHED": 1}, False, False),
}


def test_the_parent_run_ends_as_the_readmes_table_says():
    from collections import Counter

    rows = readme_parent_table()
    assert [row[0] for row in rows] == list(CASES)
    for what, status, error in rows:
        counts, completed, interrupted = CASES[what]
        assert parent_status(Counter(counts), completed, interrupted) == (status, error), what


def test_sigusr2_is_noted_and_training_goes_on(capsys):
    """SLURM's SIGUSR2 before the time limit: the job notes it and trains on (the handler the
    sweep's entry point installs; submitit's own would requeue the job)."""
    previous = signal.signal(signal.SIGUSR2, sweep.time_limit_near)
    try:
        os.kill(os.getpid(), signal.SIGUSR2)
        trained_on = True
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert trained_on
    assert capsys.readouterr().err == "job: SIGUSR2: the time limit is near\n"
    assert "(`job: SIGUSR2: the time limit is near`)" in SWEEPS
    main = (PROJECT_ROOT / "pipeline" / "tools" / "sweep.py").read_text().split("def main", 1)[1]
    assert "signal.signal(signal.SIGUSR2, time_limit_near)" in main.split("def ", 1)[0]
