"""MkDocs hook: the site's front page is README.md, the committed figures of reports/ are its
images too, and links written as a reader of the repository follows them (between the README and
the guides, to reports/) lead to the same pages and images on the site."""

import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

PROJECT = Path(__file__).parent.parent
README = PROJECT / "README.md"


def readme_as_page(markdown: str) -> str:
    """The README with its links into docs/ made relative to docs/ (where the page sits)."""
    return re.sub(r"\]\(docs/", "](", markdown)


def guide_as_page(markdown: str) -> str:
    """A guide with its links to the README pointed at the front page, and to reports/ at the
    site's copy."""
    markdown = re.sub(r"\]\(\.\./README\.md", "](index.md", markdown)
    return re.sub(r"\]\(\.\./reports/", "](reports/", markdown)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    files.append(File.generated(config, "index.md", content=readme_as_page(README.read_text())))
    for figure in sorted((PROJECT / "reports").glob("*.png")):
        files.append(File.generated(config, f"reports/{figure.name}", abs_src_path=str(figure)))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    return markdown if page.file.src_uri == "index.md" else guide_as_page(markdown)
