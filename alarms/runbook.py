"""Parse runbook 01 (markdown text) into typed sections. Pure apart from ``load_runbook``."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from alarms.catalogue import RUNBOOK_FILE


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IndexRow(_Frozen):
    name: str
    anchor: str
    severity: str
    metric_text: str
    threshold_text: str


class CodeBlock(_Frozen):
    language: str
    code: str


class InvestigationStep(_Frozen):
    text: str
    details: tuple[str, ...] = ()
    code_blocks: tuple[CodeBlock, ...] = ()


class AlarmSection(_Frozen):
    name: str
    anchor: str
    what_triggered: str
    impact: str
    investigation: tuple[InvestigationStep, ...]
    # Each item is one top-level bullet without its "- ", nested bullets kept as markdown lines.
    resolution: tuple[str, ...]


class EscalationLevel(_Frozen):
    level: str
    role: str
    action: str


class Contact(_Frozen):
    role: str
    contact: str

    @property
    def is_placeholder(self) -> bool:
        return "fill in" in self.contact.lower()


class Runbook(_Frozen):
    index: tuple[IndexRow, ...]
    sections: dict[str, AlarmSection]
    escalation: tuple[EscalationLevel, ...]
    contacts: tuple[Contact, ...]
    url: str

    def anchor_url(self, anchor: str) -> str:
        return f"{self.url}#{anchor}"


class RunbookFormatError(ValueError):
    """The runbook no longer has the structure the bot relies on."""


_LINK = re.compile(r"\]\(([^)\s]+)\)")
_INDEX_ROW = re.compile(r"^\|\s*\[(?P<name>[^\]]+)\]\(#(?P<anchor>[^)]+)\)\s*\|(?P<rest>.*)\|\s*$")
_LABELLED = re.compile(r"^\*\*(?P<label>[^*]+):\*\*\s*(?P<text>.*)$")
_NUMBERED = re.compile(r"^(?P<indent>\s*)\d+\.\s+(?P<text>.*)$")
_BULLET = re.compile(r"^(?P<indent>\s*)-\s+(?P<text>.*)$")
_ESCALATION = re.compile(r"^\d+\.\s+\*\*(?P<level>L\d+)\s*\((?P<role>[^)]+)\):\*\*\s*(?P<action>.+)$")


def slugify(heading: str) -> str:
    """GitHub-style heading anchor: lower case, punctuation except '-' and '_' dropped, spaces to '-'."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def resolve_links(markdown: str, *, docs_base_url: str, file_name: str = RUNBOOK_FILE) -> str:
    """Turn ``(03-x.md)`` and ``(#anchor)`` links into absolute links under ``docs_base_url``."""
    base = docs_base_url.rstrip("/")

    def absolute(match: re.Match[str]) -> str:
        target = match.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            return match.group(0)
        if target.startswith("#"):
            return f"]({base}/{file_name}{target})"
        return f"]({base}/{target.removeprefix('./')})"

    return _LINK.sub(absolute, markdown)


def _split_h2(lines: list[str]) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    in_fence = False
    for line in lines:
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if not in_fence and line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), [])
            continue
        if current is not None and not (not in_fence and line.strip() == "---"):
            current.append(line)
    return sections


def _parse_index(lines: list[str]) -> tuple[IndexRow, ...]:
    rows = []
    for line in lines:
        match = _INDEX_ROW.match(line.strip())
        if match is None:
            continue
        cells = [c.strip() for c in match.group("rest").split("|")]
        if len(cells) != 3:
            raise RunbookFormatError(f"index row needs 4 columns: {line!r}")
        rows.append(
            IndexRow(
                name=match.group("name"),
                anchor=match.group("anchor"),
                severity=cells[0],
                metric_text=cells[1],
                threshold_text=cells[2],
            )
        )
    return tuple(rows)


def _labelled_blocks(lines: list[str]) -> dict[str, list[str]]:
    """Split a section into ``**Label:**`` blocks; text on the label line becomes the first line."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    in_fence = False
    for line in lines:
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _LABELLED.match(line)
        if match is not None:
            current = blocks.setdefault(match.group("label").strip().lower(), [])
            if match.group("text"):
                current.append(match.group("text"))
            continue
        if current is not None:
            current.append(line)
    return blocks


def _paragraph(lines: list[str]) -> str:
    return " ".join(line.strip() for line in lines if line.strip())


def _list_items(lines: list[str], marker: re.Pattern[str]) -> list[list[str]]:
    """Group lines into top-level list items (the least-indented marker starts an item)."""
    items: list[list[str]] = []
    top_indent: int | None = None
    in_fence = False
    for line in lines:
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            if items:
                items[-1].append(line)
            continue
        match = None if in_fence else marker.match(line)
        if match is not None and (top_indent is None or len(match.group("indent")) <= top_indent):
            top_indent = len(match.group("indent"))
            items.append([match.group("text")])
        elif items:
            items[-1].append(line)
    return items


def _investigation_step(item: list[str]) -> InvestigationStep:
    text, rest = item[0].strip(), item[1:]
    details: list[str] = []
    blocks: list[CodeBlock] = []
    fence: list[str] | None = None
    language = ""
    for line in rest:
        if line.lstrip().startswith("```"):
            if fence is None:
                fence, language = [], line.strip()[3:].strip()
            else:
                blocks.append(CodeBlock(language=language, code=textwrap.dedent("\n".join(fence)).strip("\n")))
                fence = None
            continue
        if fence is not None:
            fence.append(line)
        elif (bullet := _BULLET.match(line)) is not None:
            details.append(bullet.group("text").strip())
        elif line.strip() and details:
            details[-1] += " " + line.strip()
        elif line.strip():
            text += " " + line.strip()
    return InvestigationStep(text=text, details=tuple(details), code_blocks=tuple(blocks))


def _resolution_item(item: list[str]) -> str:
    nested = textwrap.dedent("\n".join(line for line in item[1:] if line.strip()))
    return item[0].strip() + ("\n" + textwrap.indent(nested, "  ") if nested else "")


def _alarm_section(name: str, anchor: str, lines: list[str]) -> AlarmSection:
    blocks = _labelled_blocks(lines)
    missing = {"what triggered", "impact", "investigation", "resolution"} - blocks.keys()
    if missing:
        raise RunbookFormatError(f"section {name} lacks {sorted(missing)}")
    return AlarmSection(
        name=name,
        anchor=anchor,
        what_triggered=_paragraph(blocks["what triggered"]),
        impact=_paragraph(blocks["impact"]),
        investigation=tuple(_investigation_step(i) for i in _list_items(blocks["investigation"], _NUMBERED)),
        resolution=tuple(_resolution_item(i) for i in _list_items(blocks["resolution"], _BULLET)),
    )


def _parse_escalation(lines: list[str]) -> tuple[EscalationLevel, ...]:
    levels = []
    for line in lines:
        match = _ESCALATION.match(line.strip())
        if match is not None:
            levels.append(
                EscalationLevel(
                    level=match.group("level"),
                    role=match.group("role").strip(),
                    action=match.group("action").strip(),
                )
            )
    return tuple(levels)


def _parse_contacts(lines: list[str]) -> tuple[Contact, ...]:
    contacts = []
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not line.strip().startswith("|"):
            continue
        if cells[0].lower() == "role" or set(cells[0]) <= {"-", ":"}:
            continue
        contacts.append(Contact(role=cells[0], contact=cells[1]))
    return tuple(contacts)


def parse_runbook(markdown: str, *, docs_base_url: str, file_name: str = RUNBOOK_FILE) -> Runbook:
    """Parse runbook 01; relative links come back absolute under ``docs_base_url``."""
    resolved = resolve_links(markdown, docs_base_url=docs_base_url, file_name=file_name)
    h2 = _split_h2(resolved.splitlines())
    if "Alarm Index" not in h2:
        raise RunbookFormatError("no '## Alarm Index' section")
    # Index links were made absolute above; parse the index from the raw text to keep its anchors.
    index = _parse_index(_split_h2(markdown.splitlines())["Alarm Index"])
    sections = {}
    for row in index:
        heading = next((h for h in h2 if slugify(h) == row.anchor), None)
        if heading is None:
            raise RunbookFormatError(f"index links #{row.anchor} but no section has that anchor")
        sections[row.name] = _alarm_section(heading, row.anchor, h2[heading])
    escalation_heading = next((h for h in h2 if "escalation" in h.lower()), None)
    contacts_heading = next((h for h in h2 if h.lower() == "contacts"), None)
    return Runbook(
        index=index,
        sections=sections,
        escalation=_parse_escalation(h2[escalation_heading]) if escalation_heading else (),
        contacts=_parse_contacts(h2[contacts_heading]) if contacts_heading else (),
        url=f"{docs_base_url.rstrip('/')}/{file_name}",
    )


def load_runbook(path: Path, *, docs_base_url: str) -> Runbook:
    return parse_runbook(path.read_text(encoding="utf-8"), docs_base_url=docs_base_url, file_name=path.name)
