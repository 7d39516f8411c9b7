"""The Lambdas' log lines as CloudWatch Logs receives them (docs/architecture.md, "Logs").

The handlers are called the way Lambda calls them (``logged_entry``: the Powertools Logger around the
process), on the local stack, and what they write is read back as JSON lines.
"""

from __future__ import annotations

import io
import json
import logging
import re
import secrets
import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from backend.domain.errors import RequestNotFound
from backend.domain.models import RequestStatus
from backend.handlers.api import logged_entry as api_entry
from backend.handlers.logs import log_level
from backend.handlers.reconciler import logged_entry as reconciler_entry
from jitlocal.http_api import proxy_event
from tests.scenarios.helpers import BOB, ask

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "runbooks" / "01-monitoring-alarms.md"
# What Lambda puts on every line besides the message (Powertools' names).
CONTEXT_KEYS = {"cold_start", "function_name", "function_memory_size", "function_arn", "function_request_id"}


@pytest.fixture
def lambda_loggers() -> Iterator[None]:
    """A Lambda process configures logging once; a test process must get its own setup back."""
    names = ["backend", "jit-api", "jit-reconciler"]
    saved = {name: dict(logging.getLogger(name).__dict__) for name in names}
    yield
    for name, state in saved.items():
        logger = logging.getLogger(name)
        logger.__dict__.clear()
        logger.__dict__.update(state)
        logger.setLevel(logger.level)  # also clears the level caches of every logger


def lambda_context(name: str) -> SimpleNamespace:
    return SimpleNamespace(
        function_name=name,
        memory_limit_in_mb=512,
        invoked_function_arn=f"arn:aws:lambda:eu-central-1:123456789012:function:{name}",
        aws_request_id=f"lambda-{secrets.token_hex(4)}",
    )


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def wrongly_signed_event(stack, path: str = "/requests") -> dict[str, Any]:
    """Well-formed signature headers for a known key, but a signature no key made."""
    headers = [
        ("X-JIT-Key-Id", stack.signing_key().key_id),
        ("X-JIT-Timestamp", str(int(time.time()))),
        ("X-JIT-Nonce", secrets.token_urlsafe(16)),
        ("X-JIT-Signature", "v1=" + "0" * 64),
        ("Content-Type", "application/json"),
    ]
    return proxy_event("POST", path, headers, b"{}", "198.51.100.7")


def runbook_filter(log_group: str, phrase_in_pattern: str) -> str:
    """The ``--filter-pattern`` of the runbook's ``aws logs filter-log-events`` command for that log group."""
    text = RUNBOOK.read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        if "aws logs filter-log-events" not in line:
            continue
        words = shlex.split(line.strip())
        options = dict(zip(words[3::2], words[4::2], strict=False))
        pattern = options.get("--filter-pattern", "")
        if options.get("--log-group-name") == log_group and phrase_in_pattern in pattern:
            return pattern
    raise AssertionError(f"no filter-log-events for {log_group} with {phrase_in_pattern!r} in {RUNBOOK.name}")


def filter_matches(pattern: str, line: str) -> bool:
    """CloudWatch Logs filter-pattern semantics, the forms our runbooks and alarms use.

    Terms: every term (a word, or a "quoted phrase") occurs in the event, case-sensitively.
    JSON: ``{ $.a.b = "value" && $.c != x }`` compares the event's fields. Anything else fails
    loudly here, so a new kind of pattern gets a matcher before it gets a test.
    """
    pattern = pattern.strip()
    if pattern.startswith("{"):
        return _json_matches(pattern, line)
    terms = [quoted if quoted else word for quoted, word in re.findall(r'"([^"]*)"|(\S+)', pattern)]
    if not terms or any(term[0] in "?-[" for term in terms):
        raise NotImplementedError(f"filter pattern form not modelled: {pattern!r}")
    return all(term in line for term in terms)


def _json_matches(pattern: str, line: str) -> bool:
    body = re.fullmatch(r"\{\s*(.*?)\s*\}", pattern)
    if body is None or "||" in body.group(1):
        raise NotImplementedError(f"filter pattern form not modelled: {pattern!r}")
    try:
        event = json.loads(line)
    except ValueError:
        return False
    for condition in body.group(1).split("&&"):
        found = re.fullmatch(r'\s*\$\.([\w.]+)\s*(!=|=)\s*(?:"([^"]*)"|(\S+))\s*', condition)
        if found is None:
            raise NotImplementedError(f"filter condition not modelled: {condition!r}")
        path, operator, quoted, bare = found.groups()
        value: Any = event
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        equal = value is not None and str(value) == (quoted if quoted is not None else bare)
        if equal != (operator == "="):
            return False
    return True


def test_the_matcher_follows_cloudwatch_semantics():
    line = '{"level":"WARNING","message":"HMAC validation failed reason=bad_signature","service":"jit-api"}'
    assert filter_matches("HMAC validation failed", line)
    assert filter_matches('"HMAC validation failed"', line)
    assert not filter_matches("HMAC validation succeeded", line)
    assert not filter_matches('"HMAC failed"', line)
    assert not filter_matches("hmac", line)  # case-sensitive
    assert filter_matches('{ $.level = "WARNING" && $.service = jit-api }', line)
    assert not filter_matches('{ $.level = "ERROR" }', line)
    assert filter_matches('{ $.level != "ERROR" }', line)
    with pytest.raises(NotImplementedError):
        filter_matches("?HMAC ?ERROR", line)


def test_a_refused_signature_logs_one_json_line_the_runbook_filter_finds(stack, lambda_loggers):
    out = io.StringIO()
    handler = api_entry(stack.process, {"POWERTOOLS_LOG_LEVEL": "INFO"}, out)
    event = wrongly_signed_event(stack)
    context = lambda_context("jit-api")

    answer = handler(event, context)

    assert answer["statusCode"] == 401
    [line] = [raw for raw in out.getvalue().splitlines() if "HMAC" in raw]
    pattern = runbook_filter("/aws/lambda/jit-api", "HMAC")
    assert filter_matches(pattern, line), (pattern, line)
    record = json.loads(line)
    assert record["level"] == "WARNING"
    assert record["message"] == (
        f"HMAC validation failed reason=bad_signature key_id={stack.signing_key().key_id} source_ip=198.51.100.7"
    )
    assert record["auth_reason"] == "bad_signature"
    assert record["service"] == "jit-api"
    assert record["name"] == "backend.auth"
    assert record["correlation_id"] == event["requestContext"]["requestId"]
    assert record["function_request_id"] == context.aws_request_id
    assert record.keys() >= CONTEXT_KEYS
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", record["timestamp"])


def test_every_line_of_an_invocation_carries_its_own_correlation_id(stack, lambda_loggers):
    out = io.StringIO()
    handler = api_entry(stack.process, {}, out)
    first, second = wrongly_signed_event(stack), wrongly_signed_event(stack)

    handler(first, lambda_context("jit-api"))
    handler(second, lambda_context("jit-api"))

    ids = [line["correlation_id"] for line in json_lines(out)]
    assert ids == [first["requestContext"]["requestId"], second["requestContext"]["requestId"]]


def test_a_workflow_task_logs_under_its_step_functions_execution_name(stack, lambda_loggers):
    out = io.StringIO()
    handler = api_entry(stack.process, {"LOG_LEVEL": "info"}, out)
    task = {"task": "grant", "execution": "req-missing-revoke-v2", "request_id": "req-missing"}

    with pytest.raises(RequestNotFound):
        handler(task, lambda_context("jit-api"))

    lines = json_lines(out)
    assert lines, "the task logs what it does"
    assert {line["correlation_id"] for line in lines} == {"req-missing-revoke-v2"}
    assert lines[0]["message"] == "workflow task grant for req-missing"
    assert lines[0]["name"] == "backend.workflow"


def test_the_state_machine_hands_each_task_its_execution_name(stack, monkeypatch):
    received: list[dict[str, Any]] = []
    run_task = stack.lambdas._handlers["jit-api"]

    def recording(event: dict[str, Any], context: Any) -> Any:
        received.append(event)
        return run_task(event, context)

    monkeypatch.setitem(stack.lambdas._handlers, "jit-api", recording)
    created = ask(stack)
    stack.client().decide(BOB, created.request_id, "approve")
    stack.wait_for(created.request_id, RequestStatus.GRANTED)

    [grant] = [event for event in received if event["task"] == "grant"]
    assert grant["execution"] == created.request_id  # the grant execution is named after the request
    assert grant["request_id"] == created.request_id


def test_the_log_level_comes_from_the_environment(stack, lambda_loggers):
    out = io.StringIO()
    handler = api_entry(stack.process, {"POWERTOOLS_LOG_LEVEL": "ERROR"}, out)

    with pytest.raises(RequestNotFound):
        handler({"task": "grant", "request_id": "req-missing"}, lambda_context("jit-api"))
    handler(wrongly_signed_event(stack), lambda_context("jit-api"))

    assert out.getvalue() == ""  # the task's INFO line and the refusal's WARNING are below ERROR
    assert log_level({}) == "INFO"
    assert log_level({"LOG_LEVEL": "debug"}) == "DEBUG"
    assert log_level({"POWERTOOLS_LOG_LEVEL": "WARNING", "LOG_LEVEL": "DEBUG"}) == "WARNING"


def test_the_reconciler_logs_under_the_scheduled_event_id(stack, lambda_loggers):
    out = io.StringIO()
    handler = reconciler_entry(stack.uow, {}, out)
    event = {"id": "5f1d7a2c-0000-4000-8000-000000000001", "detail-type": "Scheduled Event", "source": "aws.events"}

    handler(event, lambda_context("jit-reconciler"))

    lines = json_lines(out)
    assert any(line["message"].startswith("reconcile finished") for line in lines)
    assert {line["correlation_id"] for line in lines} == {event["id"]}
    assert {line["service"] for line in lines} == {"jit-reconciler"}
