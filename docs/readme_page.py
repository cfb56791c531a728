"""MkDocs hook: the site's front page is README.md, and links between the README and the guides,
written as a reader of the repository follows them, lead to the same pages on the site."""

import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

README = Path(__file__).parent.parent / "README.md"


def readme_as_page(markdown: str) -> str:
    """The README with its links into docs/ made relative to docs/ (where the page sits)."""
    return re.sub(r"\]\(docs/", "](", markdown)


def guide_as_page(markdown: str) -> str:
    """A guide with its links to the README pointed at the front page."""
    return re.sub(r"\]\(\.\./README\.md", "](index.md", markdown)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    files.append(File.generated(config, "index.md", content=readme_as_page(README.read_text())))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    return markdown if page.file.src_uri == "index.md" else guide_as_page(markdown)
