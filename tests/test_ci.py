"""What CI runs is what docs/development.md says: `.ci/run` installs the browser tests' tools, makes
a missing one fail them, and draws Hypothesis's examples the same way on every rerun; the suite
starts its minute-long tests first, spread over the xdist workers."""

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import settings

from pipeline.config import PROJECT_ROOT
from tests.conftest import first_chunk_sizes, require_tool, spread

CI_RUN = (PROJECT_ROOT / ".ci" / "run").read_text()


def test_ci_installs_chromium_and_npm_and_sets_ci_and_the_derandomised_profile():
    for tool in ("chromium", "npm"):
        assert f"command -v {tool} >/dev/null || missing+=({tool})" in CI_RUN
    assert "\nexport CI=true\n" in CI_RUN
    assert "\nexport HYPOTHESIS_PROFILE=ci" in CI_RUN
    assert CI_RUN.rstrip().endswith("make test")
    assert settings.get_profile("ci").derandomize
    assert not settings.get_profile("dev").derandomize


def test_a_missing_tool_fails_in_ci_and_is_skipped_elsewhere(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"npm is not installed"):
        require_tool(None, "npm", "why")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match=r"npm is not installed"):
        require_tool(None, "npm", "why")


class Worker:
    """What xdist's scheduler needs of a worker: it records the tests sent to it."""

    shutting_down = False

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.sent: list[int] = []

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent += indices


def first_tests_per_worker(collection: list[str], workers: int) -> list[str]:
    """The first test each worker runs, as pytest-xdist's own worksteal scheduler hands the
    collection out."""
    from xdist.scheduler.worksteal import WorkStealingScheduling

    options = {"tx": [f"{workers}*popen"], "maxworkerrestart": None}
    config = SimpleNamespace(getvalue=options.get, getoption=options.get)
    scheduler = WorkStealingScheduling(config)
    nodes = [Worker(f"gw{i}") for i in range(workers)]
    for node in nodes:
        scheduler.add_node(node)
    for node in nodes:
        scheduler.add_node_collection(node, collection)
    scheduler.schedule()
    return [collection[node.sent[0]] for node in nodes]


@pytest.mark.parametrize("n_light", [20, 591])
def test_the_minute_long_tests_head_the_workers_chunks(n_light):
    """docs/development.md: the minute-long tests start first, `experiment=seed` alone on one worker
    and the others at the heads of the other workers' shares (tests/conftest.py's ``spread``)."""
    heavy = ["seed", "make run", "slurm time limit", "dvc 1", "dvc 2"]
    light = [f"light {i}" for i in range(n_light)]
    ordered = spread(heavy, light, workers=3)
    assert sorted(ordered) == sorted(heavy + light)
    assert first_tests_per_worker(ordered, 3) == ["seed", "make run", "slurm time limit"]
    seed_share = ordered[: first_chunk_sizes(len(ordered), 3)[0]]
    assert [test for test in seed_share if test in heavy] == ["seed"]


def test_heavy_tests_that_share_a_module_fixture_start_on_one_worker():
    """Tests of one file that use a module-scoped fixture (tests/conftest.py's
    ``module_fixture_user``) are dealt as one: the fixture is built once, not on each worker."""
    heavy = ["seed", "make run", "models 1", "models 2", "models 3", "dvc 1"]
    light = [f"light {i}" for i in range(60)]

    def holders(ordered: list[str]) -> list[int]:
        """The workers whose first chunk holds a "models" test."""
        sizes = first_chunk_sizes(len(ordered), 3)
        starts = [sum(sizes[:worker]) for worker in range(3)]
        chunks = [ordered[start : start + size] for start, size in zip(starts, sizes, strict=True)]
        return [w for w, chunk in enumerate(chunks) if any("models" in t for t in chunk)]

    together = spread(heavy, light, workers=3, together=lambda test: test.split()[0])
    assert sorted(together) == sorted(heavy + light) and together[0] == "seed"
    assert len(holders(together)) == 1
    assert len(holders(spread(heavy, light, workers=3))) == 2  # without the key: dealt in turn


def test_a_module_fixture_user_is_keyed_by_its_file(request):
    """This test uses no module-scoped fixture: its key is itself. test_mlflow_models's use one."""
    from tests.conftest import module_fixture_user

    assert module_fixture_user(request.node) is request.node
    models = [i for i in request.session.items if i.path.name == "test_mlflow_models.py"]
    if models:  # collected in this session
        assert {module_fixture_user(i) for i in models if "sweep" in i.fixturenames} == {
            models[0].path
        }


def test_every_file_started_first_exists():
    """A renamed file would silently drop out of tests/conftest.py's FIRST and start late."""
    from tests.conftest import FIRST

    files = {path.name for path in (PROJECT_ROOT / "tests").rglob("test_*.py")}
    assert set(FIRST) <= files, set(FIRST) - files
    assert len(set(FIRST)) == len(FIRST)


@pytest.mark.parametrize(("ci", "outcome"), [("true", "1 error"), (None, "1 skipped")])
def test_the_cluster_browser_test_fails_in_ci_where_chromium_is_missing(ci, outcome):
    """Checked before the cluster starts: without chromium on PATH, nothing else runs."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_XDIST_WORKER")}
    env["PATH"] = str(Path(sys.executable).parent)  # the environment's programs, no chromium
    if ci:
        env["CI"] = ci
    options = ["-p", "no:cacheprovider", "-q"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/cluster/test_browser.py", *options],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert outcome in result.stdout and "chromium is not installed" in result.stdout, result.stdout
    assert result.returncode == (1 if ci else 0)
