"""The README and the guides in docs/, read by the tests that check what they say: a page's
text, several pages as one paragraph of prose, a section under its heading."""

import re

from pipeline.config import PROJECT_ROOT

GUIDES = PROJECT_ROOT / "docs"
# every page a reader is told something on; docs/claims.md maps their claims to their checks
PAGES = (
    "README.md",
    "newcomer.md",
    "pipeline.md",
    "configuration.md",
    "library.md",
    "adding-a-layer.md",
    "inside.md",
    "models.md",
    "tracking.md",
    "sweeps.md",
    "speed.md",
    "troubleshooting.md",
    "development.md",
)


def page(name: str) -> str:
    """``README.md`` at the project's root, or a guide in docs/ by its file name."""
    return (PROJECT_ROOT / name if name == "README.md" else GUIDES / name).read_text()


def prose(*names: str) -> str:
    """Those pages with every run of white space as one space: a reflowed paragraph says the
    same."""
    return " ".join(" ".join(page(name).split()) for name in names)


def section(text: str, heading: str) -> str:
    """The text under ``heading`` (a whole line, ``## Development``), up to the next heading."""
    text = f"\n{text}"  # a page's title is its first line
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    following = re.search(r"\n#{1,3} ", text[start:])
    return text[start : start + following.start()] if following else text[start:]


def table(markdown: str) -> tuple[list[str], list[dict[str, str]]]:
    """The column names of ``markdown``'s table (its lines that start with ``| ``) and each row
    as a dict by them; a row with another number of cells fails."""
    header, *body = [line for line in markdown.splitlines() if line.startswith("| ")]
    names = cells(header)
    rows = []
    for line in body:
        row = cells(line)
        assert len(row) == len(names), f"a row of {len(row)} cells: {line}"
        rows.append(dict(zip(names, row, strict=True)))
    return names, rows


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split(" | ")]
