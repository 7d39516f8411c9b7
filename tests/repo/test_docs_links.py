"""The repository's documents and the code's pointers into them resolve inside the repository.

Code comments cite the reasons for a rule as ``docs/<file>.md, "<section>"``; the section must
exist, so a comment never points at a document or a heading that is not here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
SOURCES = ("bot", "backend", "alarms", "sandbox", "infra", "bench", "tests")

_LINK = re.compile(r"\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)
_CITATION = re.compile(r"(docs/[\w./-]+\.md)(?:#([\w-]+)|,\s*\"([^\"]+)\")?")


def headings(document: Path) -> set[str]:
    return {match.group(1) for match in _HEADING.finditer(document.read_text(encoding="utf-8"))}


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_and_their_anchors_resolve(document: Path) -> None:
    for target in _LINK.findall(document.read_text(encoding="utf-8")):
        if "://" in target or target.startswith("mailto:"):
            continue
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        assert linked.exists(), f"{document.name} links to missing {target}"
        assert linked.is_relative_to(REPO), f"{document.name} links outside the repository: {target}"
        if anchor and linked.suffix == ".md":
            assert anchor in {slug(h) for h in headings(linked)}, f"{document.name}: no heading for {target}"


def test_code_citations_name_existing_documents_and_sections() -> None:
    cited = 0
    for top in SOURCES:
        for source in sorted((REPO / top).rglob("*.py")):
            for match in _CITATION.finditer(source.read_text(encoding="utf-8")):
                document, anchor, section = match.groups()
                where = f"{source.relative_to(REPO)} cites {match.group(0)}"
                assert (REPO / document).is_file(), where
                if anchor:
                    assert anchor in {slug(h) for h in headings(REPO / document)}, where
                if section:
                    assert section in headings(REPO / document), where
                cited += 1
    assert cited > 0
