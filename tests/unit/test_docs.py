"""The README is a front door a newcomer reads in minutes, and the manual in docs/ holds together:
every relative link and anchor in README.md, CONTRIBUTING.md and docs/*.md resolves (with
GitHub's heading anchors), every page of docs/ is listed in its index, and the README stays small."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README_LIMIT_BYTES = 25_000


def documents() -> list[Path]:
    return [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted(DOCS.glob("*.md"))]


def tokens(text: str) -> list[Token]:
    """Block tokens with their inline children flattened in: links inside code are not links."""
    flat = []
    for token in MarkdownIt("commonmark").enable("table").parse(text):
        flat.append(token)
        flat.extend(token.children or [])
    return flat


def anchors(text: str) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to '-', repeats numbered."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    parsed = MarkdownIt("commonmark").parse(text)
    for opening, inline in zip(parsed, parsed[1:], strict=False):
        if opening.type != "heading_open":
            continue
        words = "".join(child.content for child in inline.children or [] if child.type in ("text", "code_inline"))
        slug = re.sub(r"[^\w\- ]", "", words.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def broken_links(path: Path) -> list[str]:
    """Every relative link of ``path`` whose file, or whose anchor in that file, does not exist."""
    broken = []
    for token in tokens(path.read_text()):
        if token.type != "link_open":
            continue
        href = str(token.attrs.get("href", ""))
        if re.match(r"^[a-z][a-z0-9+.-]*:", href, re.IGNORECASE):
            continue  # http:, https:, mailto:: not ours to check offline
        target_part, _, anchor = href.partition("#")
        target = (path.parent / target_part).resolve() if target_part else path
        if not target.exists():
            broken.append(f"{href}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target.read_text()):
            broken.append(f"{href}: no heading #{anchor} in {target.name}")
    return broken


@pytest.mark.parametrize("path", documents(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(path: Path) -> None:
    assert broken_links(path) == []


def test_the_checker_finds_a_missing_page_and_a_missing_anchor(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## The `pepper`, explained\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n[fine](other.md#the-pepper-explained) [here](#page) [web](https://example.org/x)\n"
        "[gone](missing.md) [no anchor](other.md#nope) [not here](#nowhere)\n\n"
        "```\n[in code](ignored.md)\n```\n"
    )
    assert broken_links(page) == [
        "missing.md: no such file",
        "other.md#nope: no heading #nope in other.md",
        "#nowhere: no heading #nowhere in page.md",
    ]


def test_readme_is_a_front_door() -> None:
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_LIMIT_BYTES, f"README.md is {size:,} bytes: move the detail into docs/"


def test_every_page_of_docs_is_in_the_index_and_starts_with_its_title() -> None:
    index = (DOCS / "index.md").read_text()
    listed = {str(token.attrs["href"]).partition("#")[0] for token in tokens(index) if token.type == "link_open"}
    pages = {path.name for path in DOCS.glob("*.md")} - {"index.md"}
    assert pages - listed == set()
    for path in DOCS.glob("*.md"):
        assert path.read_text().startswith("# "), f"{path.name} starts with its title"
