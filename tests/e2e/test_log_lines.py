"""The running bot's log lines name the inbound request they belong to (docs/architecture.md, "Logs")."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from bot.logs import JsonFormatter
from tests.e2e.conftest import System


@pytest.fixture
def bot_lines() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("bot")
    logger.addHandler(handler)
    yield out
    logger.removeHandler(handler)


def _lines(out: io.StringIO, containing: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if containing in line]


def test_a_refused_sns_message_is_logged_under_its_message_id(system: System, bot_lines: io.StringIO) -> None:
    bot = system.start_bot(subscribe=False)
    message_id = str(uuid.uuid4())
    body = {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": system.stack.provisioned.events_topic_arn,
        "Message": json.dumps({"not": "a lifecycle event"}),
        "Timestamp": system.stack.clock().isoformat().replace("+00:00", "Z"),
        "SignatureVersion": "1",
        "Signature": "",
        "SigningCertURL": "",
    }

    reply = requests.post(
        f"http://127.0.0.1:{bot.port}/sns",
        data=json.dumps(body),
        headers={"x-amz-sns-message-type": "Notification"},
        timeout=20,
    )

    assert reply.status_code == 400
    [line] = _lines(bot_lines, "lifecycle message refused")
    assert line["correlation_id"] == message_id
    assert (line["level"], line["service"], line["name"]) == ("WARNING", "jit-bot", "bot.app")


def test_a_refused_slash_command_is_logged_under_its_trigger_id(system: System, bot_lines: io.StringIO) -> None:
    bot = system.start_bot(subscribe=False)
    form = {"token": "wrong", "channel_id": "c1", "user_id": "u1", "command": "/jit", "trigger_id": "trigger-77"}

    reply = requests.post(f"http://127.0.0.1:{bot.port}/mattermost/command", data=form, timeout=20)

    assert reply.status_code == 401
    [line] = _lines(bot_lines, "slash command refused")
    assert line["correlation_id"] == "trigger-77"
