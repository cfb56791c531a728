"""Hydra's own records of a job with their secrets masked: Hydra writes every override as it
was given into ``.hydra/hydra.yaml`` and ``overrides.yaml`` (each job's folder) and
``multirun.yaml`` (the sweep's), so ``++hydra.job.env_set.API_TOKEN=...`` or a URI with a
password would sit in plain text beside the outputs. A job rewrites them (atomically, only if
something is masked) when it starts, which is after Hydra wrote them and before it trains."""

import os
import tempfile
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from pipeline.tracking.redact import MASK, looks_secret, redact_command

JOB_RECORDS = ("config.yaml", "hydra.yaml", "overrides.yaml")
SWEEP_RECORD = "multirun.yaml"


def redact_tree(node: Any) -> Any:
    """A YAML tree with secrets masked: the value of a key that looks secret, ``KEY=value``
    strings whose key looks secret (overrides), and the secrets inside URIs."""
    if isinstance(node, dict):
        return {
            key: MASK
            if looks_secret(str(key)) and value is not None and not isinstance(value, dict | list)
            else redact_tree(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [redact_tree(item) for item in node]
    if isinstance(node, str):
        return redact_command([node])[0]
    return node


def redact_yaml(path: Path) -> bool:
    """Rewrite ``path`` with its secrets masked; returns whether anything was."""
    if not path.is_file():
        return False
    tree = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    masked = redact_tree(tree)
    if masked == tree:
        return False
    descriptor, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(descriptor)
    try:
        OmegaConf.save(OmegaConf.create(masked), temp)
        Path(temp).replace(path)
    finally:
        Path(temp).unlink(missing_ok=True)
    return True


def redact_job_records(config: DictConfig) -> None:
    """The records of the job ``config`` describes, and of its sweep."""
    hydra = config.hydra
    paths = [Path(hydra.sweep.dir) / SWEEP_RECORD]
    if hydra.output_subdir is not None:
        folder = Path(hydra.runtime.output_dir) / hydra.output_subdir
        paths += [folder / name for name in JOB_RECORDS]
    for path in paths:
        redact_yaml(path)
