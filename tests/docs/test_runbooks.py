"""Every name and command the runbooks quote must exist in the code, the template and the CLI."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import botocore.session
import pytest
import yaml

from alarms.catalogue import CATALOGUE, WATCHDOG
from backend.adapters import tables
from backend.auth.verifier import LOG_PHRASE, MAX_SKEW_SECONDS
from infra import template_builder
from jitadmin.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "docs" / "runbooks"
ALL_DOCS = [*sorted(RUNBOOKS.glob("*.md")), ROOT / "docs" / "deploy.md"]
_FENCE = re.compile(r"```[a-z]*\n(.*?)```", re.DOTALL)
_INLINE = re.compile(r"`([^`\n]+)`")


def _text(name: str) -> str:
    return (RUNBOOKS / name).read_text(encoding="utf-8")


def _commands(markdown: str) -> list[str]:
    """Shell commands in fenced blocks (continuation lines joined) plus inline `jit-admin ...` snippets."""
    commands: list[str] = []
    for block in _FENCE.findall(markdown):
        commands += [c.strip() for c in block.replace("\\\n", " ").splitlines() if c.strip()]
    commands += [c for c in _INLINE.findall(markdown) if c.startswith("jit-admin ") and not c.endswith("...")]
    return commands


def _template() -> dict:
    return yaml.safe_load((ROOT / "infra" / "template.yaml").read_text(encoding="utf-8"))


def test_runbook_01_alarm_names_are_the_catalogue():
    names = set(re.findall(r"\bJIT-[A-Za-z0-9]+\b", _text("01-monitoring-alarms.md")))
    assert names == {d.name for d in CATALOGUE}


def test_runbook_04_alarm_names_are_the_watchdog_and_its_names_are_the_templates():
    text = _text("04-bot-unreachable.md")
    assert set(re.findall(r"\bJIT-[A-Za-z0-9]+\b", text)) == {d.name for d in WATCHDOG}
    resources = _template()["Resources"]
    for name in (
        resources["FallbackTopic"]["Properties"]["TopicName"],
        resources["DeliveryDeadLetterQueue"]["Properties"]["QueueName"],
        "system.heartbeat",
        "FallbackProtocol",
        "FallbackEndpoint",
        "RunbookAlarmsToFallback",
    ):
        assert f"`{name}`" in text, name
    for step in ("/healthz", "BOT_MATTERMOST_TOKEN", "sqs receive-message", "sns publish", "sqs delete-message"):
        assert step in text, step


def test_runbook_01_tables_indexes_and_log_groups_exist():
    text = _text("01-monitoring-alarms.md")
    table_names = set(re.findall(r"--table-name\s+(\S+)", text)) | set(re.findall(r"`(jit_[a-z_]+)`", text))
    assert table_names, "the runbook quotes jit_requests"
    assert table_names <= set(tables.TABLE_DEFINITIONS)
    for index in re.findall(r"--index-name\s+(\S+)", text):
        assert index in {i["IndexName"] for i in tables.TABLE_DEFINITIONS[tables.REQUESTS]["GlobalSecondaryIndexes"]}
    template_groups = {
        r["Properties"]["LogGroupName"] for r in _template()["Resources"].values() if r["Type"] == "AWS::Logs::LogGroup"
    }
    quoted = set(re.findall(r"--log-group-name\s+(\S+)", text))
    assert quoted == {"/aws/lambda/jit-api", "/aws/lambda/jit-reconciler"}
    assert quoted <= template_groups


def test_runbook_01_facts_match_the_code():
    text = _text("01-monitoring-alarms.md")
    assert f'--filter-pattern "{LOG_PHRASE}"' in text
    assert "Allowed skew is 5 minutes" in text and MAX_SKEW_SECONDS == 5 * 60
    assert "every 15 minutes" in text and template_builder.SCHEDULE == "rate(15 minutes)"
    assert "The reconciler will NOT retry grants" in text


@pytest.mark.parametrize("doc", ALL_DOCS, ids=lambda p: p.name)
def test_every_quoted_aws_cli_command_is_a_real_operation(doc):
    session = botocore.session.get_session()
    for command in _commands(doc.read_text(encoding="utf-8")):
        if not command.startswith("aws "):
            continue
        words = command.split()
        service, operation = words[1], words[2]
        if (service, operation) in {("cloudformation", "deploy"), ("s3", "cp")}:  # CLI-only customisations
            continue
        model = session.get_service_model(service)
        camel = "".join(part.title() for part in operation.split("-"))
        assert camel in model.operation_names, command


@pytest.mark.parametrize("doc", ALL_DOCS, ids=lambda p: p.name)
def test_every_quoted_jit_admin_command_parses_with_the_real_cli(doc):
    parser = build_parser()
    commands = [c for c in _commands(doc.read_text(encoding="utf-8")) if c.startswith("jit-admin ")]
    if doc.name.startswith(("02", "03")):
        assert len(commands) >= 5, "runbooks 02 and 03 are procedures with jit-admin commands"
    for command in commands:
        argv = [re.sub(r"<[^>]+>", "placeholder-1", word) for word in shlex.split(command)[1:]]
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:
            raise AssertionError(f"{doc.name}: does not parse: {command}") from exc
        assert callable(args.handler)


@pytest.mark.parametrize("doc", ALL_DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(doc):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
        if "://" in target:
            continue
        assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"


def test_runbook_02_follows_the_rotation_order():
    text = _text("02-key-rotation.md")
    positions = [text.index(f"keys {step} ") for step in ("add", "promote", "retire")]
    assert positions == sorted(positions)
    assert "--write-secret-to" in text


def test_runbook_03_covers_every_scope_and_resume():
    text = _text("03-break-glass-revoke.md")
    for needle in ("--request-id", "--user", "--all", "REVOKE ALL", "break-glass resume", "--reason"):
        assert needle in text
