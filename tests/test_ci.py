"""What CI runs is what the README says: `.ci/run` installs the browser tests' tools, makes a
missing one fail them, and draws Hypothesis's examples the same way on every rerun."""

import pytest
from hypothesis import settings

from pipeline.config import PROJECT_ROOT
from tests.pipeline.test_plots import require_tool

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
