"""The guides as a website: `mkdocs build --strict` (what `make docs` runs) succeeds, so no link
or anchor is broken and no page is left out of the nav; the pages fetch nothing from another
host, so the site reads offline; the front page is the README."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import PROJECT_ROOT
from tests.guides import PAGES


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built as `make docs` builds it, into a temporary folder."""
    folder = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return folder


def test_the_site_builds_strictly_and_fetches_nothing(site):
    pages = sorted(site.rglob("*.html"))
    assert pages
    for page in pages:
        html = page.read_text()
        fetched = re.findall(
            r"""<(?:script|link|img|iframe)\b[^>]*(?:src|href)=["']?(?:https?:)?//""", html
        )
        assert not fetched, (page.relative_to(site), fetched)
    # no web font either: Material's fonts come from Google's servers unless `font: false`
    assert not any("fonts.googleapis" in p.read_text() for p in pages)


def test_every_guide_is_a_page_and_the_readme_is_the_front_page(site):
    for name in PAGES:
        built = "index.html" if name == "README.md" else name.replace(".md", ".html")
        assert (site / built).is_file(), built
    front = (site / "index.html").read_text()
    assert "A five-minute tour" in front and 'href="pipeline.html"' in front


def test_a_broken_anchor_fails_the_build(tmp_path):
    """--strict is what catches it: a link to a heading no page has."""
    shutil.copytree(PROJECT_ROOT / "docs", tmp_path / "docs")
    shutil.copy2(PROJECT_ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copy2(PROJECT_ROOT / "README.md", tmp_path / "README.md")
    guide = tmp_path / "docs" / "library.md"
    guide.write_text(guide.read_text() + "\nSee [nowhere](pipeline.md#no-such-heading).\n")
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", "out"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "no-such-heading" in result.stderr
