"""Round trips to a real local integration server: slash command, button click, dialog."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import requests

from sandbox.mattermost import MattermostEmulator
from tests.emulator.conftest import FakeClock, Integration, Received, json_reply


def register(mm: MattermostEmulator, integration: Integration) -> dict[str, Any]:
    body = {"team_id": mm.team_id, "trigger": "jit", "url": integration.url + "/command", "method": "P"}
    headers = {"Authorization": f"Bearer {mm.token('jit-bot')}"}
    return dict(requests.post(f"{mm.url}/api/v4/commands", json=body, headers=headers, timeout=10).json())


def test_slash_command_form_fields_and_token_header(mm: MattermostEmulator, integration: Integration) -> None:
    command = register(mm, integration)
    integration.reply = lambda _r: json_reply({"text": "got it"})
    result = mm.run_command(user="alice", channel="jit-approvals", text="/JIT request prod @bob ~oncall")
    sent = integration.received[0]
    form = parse_qs(sent.body.decode(), keep_blank_values=True)
    assert sent.headers["Authorization"] == f"Token {command['token']}"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    alice, bob = mm.user("alice"), mm.user("bob")
    assert {k: v for k, v in form.items() if k not in {"trigger_id", "response_url"}} == {
        "channel_id": [mm.channel_id("jit-approvals")],
        "channel_name": ["jit-approvals"],
        "command": ["/jit"],
        "team_domain": ["jit"],
        "team_id": [mm.team_id],
        "text": ["request prod @bob ~oncall"],
        "token": [command["token"]],
        "user_id": [alice.id],
        "user_name": ["alice"],
        "root_id": [""],
        "user_mentions": ["bob"],
        "user_mentions_ids": [bob.id],
        "channel_mentions": ["oncall"],
        "channel_mentions_ids": [mm.channel_id("oncall")],
    }
    assert form["response_url"][0].startswith(f"{mm.url}/hooks/commands/")
    assert result.texts == ["got it"]
    assert [p["message"] for p in mm.ephemerals("alice")] == ["got it"]
    assert mm.posts("jit-approvals") == []  # ephemeral is the default


def test_in_channel_plain_text_and_extra_responses(mm: MattermostEmulator, integration: Integration) -> None:
    register(mm, integration)
    integration.reply = lambda _r: (200, "text/plain", b'{"response_type": "in_channel"}')
    assert mm.run_command(user="alice", channel="oncall", text="/jit x").texts == ['{"response_type": "in_channel"}']
    reply = {"response_type": "in_channel", "text": "one", "extra_responses": [{"text": "two"}]}
    integration.reply = lambda _r: json_reply(reply)
    result = mm.run_command(user="alice", channel="oncall", text="/jit y")
    assert [p["message"] for p in result.posts] == ["one"]
    assert [p["message"] for p in result.ephemerals] == ["two"]
    posted = mm.posts("oncall")[0]
    assert (posted["user_id"], posted["props"]["from_webhook"]) == (mm.user("alice").id, "true")


def test_non_200_reply_shows_error_to_user(mm: MattermostEmulator, integration: Integration) -> None:
    register(mm, integration)
    integration.reply = lambda _r: (500, "text/plain", b"boom")
    result = mm.run_command(user="alice", channel="oncall", text="/jit")
    assert result.error == "Command with a trigger of 'jit' returned response 500"


def test_response_url_five_uses_within_thirty_minutes(
    mm: MattermostEmulator, integration: Integration, clock: FakeClock
) -> None:
    register(mm, integration)
    mm.run_command(user="alice", channel="oncall", text="/jit slow")
    hook = parse_qs(integration.received[0].body.decode())["response_url"][0]
    statuses = [requests.post(hook, json={"text": f"late {i}"}, timeout=10).status_code for i in range(6)]
    assert statuses == [200] * 5 + [400]
    assert [p["message"] for p in mm.ephemerals("alice")] == [f"late {i}" for i in range(5)]
    mm.run_command(user="alice", channel="oncall", text="/jit slower")
    second = parse_qs(integration.received[1].body.decode())["response_url"][0]
    clock.advance(30 * 60 + 1)
    assert requests.post(second, json={"text": "too late"}, timeout=10).status_code == 400


def test_click_posts_b2_body_without_auth_and_applies_update(mm: MattermostEmulator, integration: Integration) -> None:
    action = {
        "id": "approve",
        "name": "Approve",
        "type": "button",
        "integration": {"url": integration.url + "/click", "context": {"request": "r1", "sig": "abc"}},
    }
    post = mm.post_as(user="jit-bot", channel="jit-approvals", message="approve?")
    post = mm.mm.edit_post(
        mm.user("jit-bot"),
        post["id"],
        {"props": {"attachments": [{"text": "req", "actions": [action]}]}},
        patch=True,
    )
    update = {"message": "approved by bob", "props": {"attachments": [{"text": "done"}]}}
    integration.reply = lambda _r: json_reply({"update": update, "ephemeral_text": "thanks"})
    result = mm.click(user="bob", post_id=post["id"], action_id="approve")
    sent = integration.received[0]
    assert "Authorization" not in sent.headers
    body = sent.json()
    assert body["context"] == {"request": "r1", "sig": "abc"}
    assert (body["user_id"], body["user_name"], body["post_id"]) == (mm.user("bob").id, "bob", post["id"])
    assert (body["team_id"], body["team_domain"], body["type"]) == (mm.team_id, "jit", "button")
    assert body["channel_name"] == "jit-approvals"
    assert body["trigger_id"]
    assert result.status == 200
    stored = mm.posts("jit-approvals")[0]
    assert stored["message"] == "approved by bob"
    assert stored["props"]["attachments"] == [{"text": "done"}]
    assert "from_bot" not in stored["props"]  # only from_webhook/override_* survive a props update
    assert [p["message"] for p in mm.ephemerals("bob")] == ["thanks"]
    edits = [json.loads(e.data["post"]) for e in mm.events("carol", "post_edited")]
    assert [e["message"] for e in edits] == ["approve?", "approved by bob"]  # the patch, then the click


def test_click_update_without_props_keeps_buttons(mm: MattermostEmulator, integration: Integration) -> None:
    action = {"id": "deny", "name": "Deny", "integration": {"url": integration.url, "context": {}}}
    post = mm.mm.create_post(
        mm.user("jit-bot"),
        {
            "channel_id": mm.channel_id("jit-approvals"),
            "message": "m",
            "props": {"attachments": [{"actions": [action]}]},
        },
    )
    integration.reply = lambda _r: json_reply({"update": {"message": ""}})
    assert mm.click(user="carol", post_id=post["id"], action_id="deny").status == 200
    stored = mm.posts("jit-approvals")[0]
    assert stored["message"] == ""
    assert stored["props"]["attachments"][0]["actions"][0]["id"] == "deny"
    integration.reply = lambda _r: (200, "text/html", b"<html>")
    assert mm.click(user="carol", post_id=post["id"], action_id="deny").status == 400


def test_dialog_submission_with_field_errors(mm: MattermostEmulator, integration: Integration) -> None:
    register(mm, integration)
    dialog = {
        "callback_id": "req",
        "state": "signed-state",
        "title": "Request access",
        "elements": [{"name": "reason", "display_name": "Reason", "type": "textarea"}],
    }

    def reply(request: Received) -> tuple[int, str, bytes]:
        if request.path == "/command":
            trigger = parse_qs(request.body.decode())["trigger_id"][0]
            opened = requests.post(
                f"{mm.url}/api/v4/actions/dialogs/open",
                json={"trigger_id": trigger, "url": integration.url + "/dialog", "dialog": dialog},
                timeout=10,
            )
            assert opened.status_code == 200
            return 200, "application/json", b""
        submission = request.json()["submission"]
        if len(submission["reason"]) < 5:
            return json_reply({"errors": {"reason": "too short"}})
        return json_reply({})

    integration.reply = reply
    mm.run_command(user="alice", channel="jit-approvals", text="/jit")
    opened_event = mm.events("alice", "open_dialog")[0]
    assert json.loads(opened_event.data["dialog"])["dialog"]["title"] == "Request access"
    first = mm.submit_dialog("alice", {"reason": "x"})
    assert (first.closed, first.errors) == (False, {"reason": "too short"})
    sent = integration.received[1].json()
    assert sent["type"] == "dialog_submission"
    assert (sent["user_id"], sent["state"], sent["callback_id"]) == (mm.user("alice").id, "signed-state", "req")
    second = mm.submit_dialog("alice", {"reason": "prod outage"})
    assert (second.closed, second.errors) == (True, {})


def test_sandbox_http_endpoints(mm: MattermostEmulator, integration: Integration) -> None:
    register(mm, integration)
    integration.reply = lambda _r: json_reply({"response_type": "in_channel", "text": "hello"})
    body = {"user": "alice", "text": "/jit help"}
    result = requests.post(f"{mm.url}/_sandbox/command", json=body, timeout=10).json()
    assert [p["message"] for p in result["posts"]] == ["hello"]
    listed = requests.get(f"{mm.url}/_sandbox/channel/jit-approvals", timeout=10).json()
    assert [p["message"] for p in listed] == ["hello"]
