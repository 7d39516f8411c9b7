"""The bot's JSON log lines carry the Lambdas' keys (docs/architecture.md, "Logs")."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from bot.logs import JsonFormatter, configure_logging, correlation_id

LAMBDA_KEYS = ["level", "location", "message", "timestamp", "service"]  # what every Powertools line starts with


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("bot.test-log-lines")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield out
    logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)


def _read(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_line_has_the_lambda_keys_and_the_extra_fields(lines):
    logging.getLogger("bot.test-log-lines").warning("refused %s", "x\ny", extra={"reason": "bad_token"})

    [line] = _read(lines)
    assert list(line)[:5] == LAMBDA_KEYS
    assert line["level"] == "WARNING"
    assert line["message"] == "refused x\ny"  # one line still: JSON escapes the newline
    assert "\n" not in lines.getvalue().rstrip("\n")
    assert line["service"] == "jit-bot"
    assert line["name"] == "bot.test-log-lines"
    assert line["reason"] == "bad_token"
    assert line["location"].startswith("test_a_line_has_the_lambda_keys_and_the_extra_fields:")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["timestamp"])
    assert "correlation_id" not in line


def test_the_correlation_id_follows_the_request_into_the_work_it_starts(lines):
    log = logging.getLogger("bot.test-log-lines")

    async def handle(request_id: str) -> None:
        correlation_id.set(request_id)
        log.info("received")
        await asyncio.create_task(work())

    async def work() -> None:
        await asyncio.sleep(0)
        log.info("working")

    async def two_requests() -> None:
        await asyncio.gather(handle("trigger-1"), handle("post-2"))

    asyncio.run(two_requests())

    by_id: dict[str, list[str]] = {}
    for line in _read(lines):
        by_id.setdefault(line["correlation_id"], []).append(line["message"])
    assert by_id == {"trigger-1": ["received", "working"], "post-2": ["received", "working"]}


def test_an_exception_is_logged_with_its_name_and_traceback(lines):
    try:
        raise TimeoutError("mattermost slow")
    except TimeoutError:
        logging.getLogger("bot.test-log-lines").exception("post failed")

    [line] = _read(lines)
    assert line["level"] == "ERROR"
    assert line["exception_name"] == "TimeoutError"
    assert line["exception"].startswith("Traceback (most recent call last):")


def test_configure_logging_puts_json_on_the_root_logger():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    out = io.StringIO()
    try:
        configure_logging(logging.WARNING, out)
        logging.getLogger("bot.test-log-lines.root").info("not shown")
        logging.getLogger("uvicorn.error").warning("shown")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    [line] = _read(out)
    assert (line["name"], line["message"], line["service"]) == ("uvicorn.error", "shown", "jit-bot")
