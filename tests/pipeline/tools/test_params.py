"""``python -m pipeline.tools.params --check``: exit 0 when params.yaml is conf/'s composition,
exit 1 with one error line when it is not; it never writes."""

import shutil
import subprocess
import sys
from pathlib import Path

from pipeline.config import PROJECT_ROOT


def check(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.tools.params", "--check"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_passes_on_the_committed_params():
    result = check(PROJECT_ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{PROJECT_ROOT / 'params.yaml'} matches conf/\n"


def test_check_exits_1_when_params_yaml_differs_and_writes_nothing(tmp_path):
    """On a copy of the code and conf/ (the tool reads the project it belongs to)."""
    for folder in ("pipeline", "conf"):
        shutil.copytree(PROJECT_ROOT / folder, tmp_path / folder)
    params = tmp_path / "params.yaml"
    edited = (PROJECT_ROOT / "params.yaml").read_text().replace("lr: 0.002", "lr: 0.003")
    assert edited != (PROJECT_ROOT / "params.yaml").read_text()
    params.write_text(edited)
    for case in ("edited", "missing"):
        result = check(tmp_path)
        assert result.returncode == 1
        assert result.stderr == (
            f"error: {params}: differs from conf/: run `make params` (or `neuralscratch-params`)\n"
        )
        assert (params.read_text() if params.exists() else None) == (
            edited if case == "edited" else None
        )
        params.unlink(missing_ok=True)
