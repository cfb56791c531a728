"""Train's checkpoint, written after every epoch, so a killed training resumes where it stopped.

It holds what the next epoch depends on: the weights and the network's state (batch norm's
running statistics), the optimiser's state (Adam's moments and step count), the batch-order
RNG's state, the history so far (and the per-layer statistics so far) and the MLflow run.
Resuming from
it gives weights bit-identical to an uninterrupted run. It is used only by a training whose
configuration and prepared data match its fingerprint, and removed once the outputs are written.
"""

import dataclasses
import hashlib
import json
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

import scratchnn as sn
from pipeline.config import Config
from pipeline.io import atomic_file
from pipeline.tracking.datasets import split_digest

OPTIMIZER_PREFIX = "optimizer."


@dataclass
class Checkpoint:
    epoch: int  # completed epochs
    params: np.ndarray
    state: np.ndarray  # the network's non-trainable state (batch norm's running statistics)
    optimizer: dict[str, np.ndarray]
    rng_state: dict
    history: list[sn.EpochMetrics]
    run_id: str | None
    dynamics: list[dict[str, float]] = field(default_factory=list)  # train.diagnostics' rows


def checkpoint_path(cfg: Config) -> Path:
    """``models/model.npz`` -> ``models/model.checkpoint.npz`` (beside, not a DVC output)."""
    model = Path(cfg.paths.model)
    return model.with_name(f"{model.stem}.checkpoint.npz")


def fingerprint(cfg: Config) -> str:
    """What decides the training: every setting but paths and tracking, and the data: its
    ``info.json`` and the content of the splits training reads (other images with the same
    row and label counts have the same ``info.json``)."""
    settings = OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True, enum_to_str=True)
    assert isinstance(settings, dict)
    settings = {k: v for k, v in settings.items() if k not in ("paths", "tracking")}
    prepared = Path(cfg.paths.prepared)
    info = prepared / "info.json"
    data = info.read_text() if info.is_file() else ""
    content = [split_digest(prepared, split) for split in ("train", "val")]
    return hashlib.sha256(
        json.dumps([settings, data, content], sort_keys=True).encode()
    ).hexdigest()


def save(path: Path, checkpoint: Checkpoint, stamp: str) -> None:
    """Write ``checkpoint`` with ``stamp``, the ``fingerprint`` of its configuration (computed
    once per training by the caller: it costs more than writing a small network)."""
    meta = {
        "fingerprint": stamp,
        "epoch": checkpoint.epoch,
        "rng_state": checkpoint.rng_state,
        "history": [dataclasses.asdict(m) for m in checkpoint.history],
        "run_id": checkpoint.run_id,
        "dynamics": checkpoint.dynamics,
    }
    arrays = {f"{OPTIMIZER_PREFIX}{k}": v for k, v in checkpoint.optimizer.items()}
    with atomic_file(path, what="the checkpoint") as file:
        np.savez(
            file,
            params=checkpoint.params,
            state=checkpoint.state,
            meta=np.array(json.dumps(meta)),
            **arrays,
        )


def load(path: Path, cfg: Config) -> Checkpoint | None:
    """The checkpoint at ``path`` if it belongs to this configuration, else None."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            params = npz["params"]
            state = npz["state"]
            optimizer = {
                key.removeprefix(OPTIMIZER_PREFIX): npz[key]
                for key in npz.files
                if key.startswith(OPTIMIZER_PREFIX)
            }
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        print(f"warning: ignoring unreadable checkpoint {path} ({error})", file=sys.stderr)
        return None
    if meta["fingerprint"] != fingerprint(cfg):
        print(
            f"warning: ignoring checkpoint {path}: it is of another configuration or data",
            file=sys.stderr,
        )
        return None
    return Checkpoint(
        epoch=meta["epoch"],
        params=params,
        state=state,
        optimizer=optimizer,
        rng_state=meta["rng_state"],
        history=[sn.EpochMetrics(**m) for m in meta["history"]],
        run_id=meta["run_id"],
        dynamics=meta.get("dynamics", []),
    )
