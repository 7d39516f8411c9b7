from __future__ import annotations

from pathlib import Path

import pytest

from alarms.runbook import Runbook, RunbookFormatError, load_runbook, parse_runbook, resolve_links, slugify

RUNBOOK = Path(__file__).parents[2] / "docs" / "runbooks" / "01-monitoring-alarms.md"
BASE = "https://git.example.com/jit/blob/main/docs/runbooks/"


@pytest.fixture(scope="module")
def runbook() -> Runbook:
    return load_runbook(RUNBOOK, docs_base_url=BASE)


def test_sections_carry_the_runbook_text(runbook: Runbook) -> None:
    section = runbook.sections["JIT-GrantRevokeFailed"]
    assert section.what_triggered == "A Step Functions execution failed during the grant or revoke phase."
    assert section.impact.startswith("A user's access was not properly granted or revoked.")
    assert [s.text for s in section.investigation] == [
        "Check Step Functions execution history:",
        "Get the failed execution details:",
        "Check the Lambda logs for the specific action:",
        "Check if IAM Identity Center is experiencing issues:",
    ]
    first = section.investigation[0].code_blocks[0]
    assert first.language == "bash"
    assert first.code.splitlines()[0] == "aws stepfunctions list-executions \\"
    assert "  --state-machine-arn <sfn_arn> \\" in first.code.splitlines()
    assert section.resolution[0].startswith("**Grant failure:**")
    assert "The reconciler will NOT retry grants." in section.resolution[0]
    assert "\n  - Ask the user to submit a new request" in section.resolution[0]


def test_nested_bullets_become_step_details(runbook: Runbook) -> None:
    steps = runbook.sections["JIT-HMACAuthFailures"].investigation
    assert steps[1].text == "Look for patterns:"
    assert steps[1].details[0] == "Same source IP? Could be an attack."
    assert len(steps[1].details) == 4
    assert "HMAC validation failed" in steps[0].code_blocks[0].code


def test_code_blocks_keep_quotes_and_substitutions(runbook: Runbook) -> None:
    code = runbook.sections["JIT-ReconcilerErrors"].investigation[1].code_blocks[0].code
    assert "--index-name gsi_status_endtime" in code
    assert """'{":s":{"S":"GRANTED"},":now":{"S":"'"$(date -u +%Y-%m-%dT%H:%M:%SZ)"'"}}'""" in code


def test_links_resolve_against_docs_url(runbook: Runbook) -> None:
    revoke = runbook.sections["JIT-GrantRevokeFailed"].resolution[1]
    assert f"[break-glass revoke]({BASE}03-break-glass-revoke.md)" in revoke
    rotation = " ".join(runbook.sections["JIT-HMACAuthFailures"].resolution)
    assert f"[key rotation runbook]({BASE}02-key-rotation.md)" in rotation
    internal = runbook.sections["JIT-API4xxRate"].investigation[0].text
    assert f"({BASE}01-monitoring-alarms.md#jit-hmacauthfailures)" in internal
    assert runbook.url == BASE + "01-monitoring-alarms.md"
    assert runbook.anchor_url("jit-api5xxrate") == BASE + "01-monitoring-alarms.md#jit-api5xxrate"


def test_resolve_links_leaves_absolute_links_alone() -> None:
    text = "[a](https://x.example/y.md) [b](mailto:o@x.example) [c](./02-key-rotation.md) [d](#top)"
    assert resolve_links(text, docs_base_url="https://d.example/r", file_name="01.md") == (
        "[a](https://x.example/y.md) [b](mailto:o@x.example) "
        "[c](https://d.example/r/02-key-rotation.md) [d](https://d.example/r/01.md#top)"
    )


def test_escalation_and_contacts(runbook: Runbook) -> None:
    assert [(e.level, e.role) for e in runbook.escalation] == [
        ("L1", "On-call"),
        ("L2", "Platform team"),
        ("L3", "Security team"),
    ]
    assert runbook.escalation[2].action.startswith("If the alarm suggests unauthorized access")
    assert [c.role for c in runbook.contacts] == ["JIT system owner", "Platform on-call", "Security team"]
    assert all(c.is_placeholder for c in runbook.contacts)


def test_every_section_has_all_eight_alarms(runbook: Runbook) -> None:
    assert len(runbook.sections) == 8
    for name, section in runbook.sections.items():
        assert section.name == name
        assert slugify(name) == section.anchor


def test_missing_section_part_is_an_error() -> None:
    text = RUNBOOK.read_text().replace("**Impact:** Users may retain access", "Users may retain access", 1)
    with pytest.raises(RunbookFormatError, match="JIT-ReconcilerErrors"):
        parse_runbook(text, docs_base_url=BASE)


def test_index_pointing_nowhere_is_an_error() -> None:
    text = RUNBOOK.read_text().replace("## JIT-API5xxRate", "## JIT-API5xx", 1)
    with pytest.raises(RunbookFormatError, match="jit-api5xxrate"):
        parse_runbook(text, docs_base_url=BASE)
