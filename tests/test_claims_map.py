"""docs/claims.md maps every claim of the README and the guides to what checks it. This keeps the
map from going stale silently: every test it names exists (found by reading the test files with
``ast``, not by running pytest), every heading of every page has a row, and every row says what
kind of check it is and, if a test or a benchmark, which."""

import ast
import re
from functools import cache

import pytest

from pipeline.config import PROJECT_ROOT
from tests.guides import PAGES, page, table

CLAIMS = PROJECT_ROOT / "docs" / "claims.md"
KINDS = {"test", "benchmark"}  # no page claims anything that neither checks
BENCHMARKS = {
    "make bench": "reports/benchmark.json",
    "make bench-sweep": "reports/bench_sweep.json",
    "make bench-recipes": "reports/recipes.json",
    "make bench-loop": "reports/bench_loop.json",
    ".ci/run": "its log",  # the suite's own time: pytest's last line and the 40 slowest
}
NODE_ID = re.compile(r"`(tests/[\w/]+\.py)::(\w+(?:::\w+)?)`")


def headings(markdown: str) -> list[str]:
    """The text of every heading outside fenced code blocks."""
    found, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"#{1,6} (.+)", line)):
            found.append(match.group(1).strip())
    return found


def rows() -> list[dict[str, str]]:
    """The table's rows: page, line, section, claim, checked by, kind."""
    names, parsed = table(CLAIMS.read_text())
    assert names == ["page", "line", "section", "claim", "checked by", "kind"], names
    return parsed


@cache
def defined_tests(path: str) -> frozenset[str]:
    """``name`` of every test function and ``Class::name`` of every test method in ``path``."""
    tree = ast.parse((PROJECT_ROOT / path).read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.update(
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            )
    return frozenset(name for name in names if name.split("::")[-1].startswith("test"))


def test_every_test_the_map_names_exists():
    missing = []
    for row in rows():
        for path, name in NODE_ID.findall(row["checked by"]):
            if not (PROJECT_ROOT / path).is_file() or name not in defined_tests(path):
                missing.append(f"{path}::{name} ({row['page']} line {row['line']})")
    assert not missing, "docs/claims.md names tests that do not exist:\n" + "\n".join(missing)


@pytest.mark.parametrize("name", PAGES)
def test_every_heading_of_every_page_has_a_row(name):
    path = name if name == "README.md" else f"docs/{name}"
    sections = {row["section"] for row in rows() if row["page"] == path}
    written = headings(page(name))
    assert not [heading for heading in written if heading not in sections]
    # and no row sits under a heading the page no longer has
    assert not sections - set(written)


def test_every_row_is_on_a_page_of_the_guides():
    pages = {name if name == "README.md" else f"docs/{name}" for name in PAGES}
    assert {row["page"] for row in rows()} == pages


def test_every_row_says_what_checks_it():
    for row in rows():
        assert row["kind"] in KINDS, row
        assert row["line"].isdigit() and row["claim"] and row["checked by"], row
        named_tests = NODE_ID.findall(row["checked by"])
        named_benchmarks = [
            target
            for target, output in BENCHMARKS.items()
            if f"`{target}` → `{output}`" in row["checked by"]
        ]
        if row["kind"] == "test":
            assert named_tests, f"a test row names no test: {row}"
        if row["kind"] == "benchmark":
            assert named_benchmarks, f"a benchmark row names no target and its file: {row}"


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("| `tests/a.py::test_b` |", [("tests/a.py", "test_b")]),
        (
            "`tests/x/y.py::C::test_d`, `tests/z.py::test_e`",
            [("tests/x/y.py", "C::test_d"), ("tests/z.py", "test_e")],
        ),
    ],
)
def test_node_ids_are_read_as_written(table, expected):
    assert NODE_ID.findall(table) == expected


def test_headings_in_code_blocks_are_not_headings():
    text = "# A\n\n```console\n# not a heading\n```\n\n## B `c`\n"
    assert headings(text) == ["A", "B `c`"]


def test_the_map_names_a_test_file_that_exists():
    """The checker itself: a name that is not defined is found missing."""
    assert "test_every_test_the_map_names_exists" in defined_tests("tests/test_claims_map.py")
    assert "no_such_test" not in defined_tests("tests/test_claims_map.py")
    assert defined_tests("tests/test_readme_numbers.py")  # an ordinary test file has tests
