"""What a person's client calls (the sandbox chat page uses these as Mattermost's webapp does):
spec-checked like the bot's calls, acting as the token's user."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import requests
from starlette.requests import Request

from sandbox.mattermost import MattermostEmulator
from sandbox.mattermost.webpage import is_loopback
from tests.emulator.conftest import Integration, Received, json_reply
from tests.emulator.test_integrations import register


def api(mm: MattermostEmulator, method: str, path: str, user: str, **kw: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {mm.token(user)}"}
    return requests.request(method, f"{mm.url}/api/v4{path}", headers=headers, timeout=10, **kw)


def test_channels_for_team_include_the_users_direct_messages(mm: MattermostEmulator) -> None:
    api(mm, "POST", "/channels/direct", "jit-bot", json=[mm.user("jit-bot").id, mm.user("alice").id])
    alice = api(mm, "GET", f"/users/me/teams/{mm.team_id}/channels", "alice").json()
    bob = api(mm, "GET", f"/users/me/teams/{mm.team_id}/channels", "bob").json()
    assert {c["name"] for c in alice if c["type"] == "O"} == {"jit-approvals", "oncall", "town-square"}
    assert [c["type"] for c in alice].count("D") == 1
    assert [c["type"] for c in bob].count("D") == 0
    others = api(mm, "GET", f"/users/{mm.user('alice').id}/teams/{mm.team_id}/channels", "bob")
    assert others.status_code == 403
    assert api(mm, "GET", "/users/me/teams", "alice").json()[0]["name"] == "jit"


def test_autocomplete_lists_the_command_without_its_secrets(mm: MattermostEmulator, integration: Integration) -> None:
    body = {
        "team_id": mm.team_id,
        "trigger": "jit",
        "url": integration.url + "/command",
        "method": "P",
        "auto_complete": True,
        "auto_complete_hint": "[request|list|help]",
        "auto_complete_desc": "Just-in-time AWS access",
    }
    api(mm, "POST", "/commands", "jit-bot", json=body)
    [listed] = api(mm, "GET", f"/teams/{mm.team_id}/commands/autocomplete", "alice").json()
    assert (listed["trigger"], listed["auto_complete_hint"]) == ("jit", "[request|list|help]")
    assert (listed["token"], listed["url"]) == ("", "")


def test_execute_command_as_the_user_sends_the_ephemeral_reply_over_the_websocket(
    mm: MattermostEmulator, integration: Integration
) -> None:
    register(mm, integration)
    card = {"color": "#ff0000", "title": "Card", "fields": [{"title": "A", "value": "b", "short": True}]}
    integration.reply = lambda _r: json_reply({"text": "only you", "attachments": [card]})
    body = {"channel_id": mm.channel_id("jit-approvals"), "command": "/jit list"}
    response = api(mm, "POST", "/commands/execute", "alice", json=body)
    assert response.status_code == 200
    assert parse_qs(integration.received[0].body.decode())["user_name"] == ["alice"]
    [event] = mm.events("alice", "ephemeral_message")
    post = json.loads(event.data["post"])
    assert post["message"] == "only you"
    # The attachments travel in the websocket event itself: a client renders them from it.
    assert post["props"]["attachments"][0]["title"] == "Card"
    assert mm.events("bob", "ephemeral_message") == []


def test_execute_command_failure_is_an_app_error(mm: MattermostEmulator, integration: Integration) -> None:
    register(mm, integration)
    integration.reply = lambda _r: (500, "text/plain", b"boom")
    body = {"channel_id": mm.channel_id("jit-approvals"), "command": "/jit list"}
    response = api(mm, "POST", "/commands/execute", "alice", json=body)
    assert response.status_code == 500
    assert "returned response 500" in response.json()["message"]
    unknown = api(mm, "POST", "/commands/execute", "alice", json=body | {"command": "/nope"})
    assert unknown.status_code == 404


def test_post_action_clicks_as_the_token_user(mm: MattermostEmulator, integration: Integration) -> None:
    integration.reply = lambda _r: json_reply({"ephemeral_text": "You approved it."})
    action = {"id": "approve", "name": "Approve", "integration": {"url": integration.url + "/click", "context": {}}}
    post = api(
        mm,
        "POST",
        "/posts",
        "jit-bot",
        json={
            "channel_id": mm.channel_id("jit-approvals"),
            "message": "card",
            "props": {"attachments": [{"actions": [action]}]},
        },
    ).json()
    response = api(mm, "POST", f"/posts/{post['id']}/actions/approve", "bob")
    assert (response.status_code, response.json()) == (200, {"status": "OK"})
    assert integration.received[0].json()["user_name"] == "bob"
    assert [json.loads(e.data["post"])["message"] for e in mm.events("bob", "ephemeral_message")] == [
        "You approved it."
    ]
    integration.reply = lambda _r: (500, "text/plain", b"")
    assert api(mm, "POST", f"/posts/{post['id']}/actions/approve", "bob").status_code == 400


def test_dialog_submit_relays_field_errors_then_closes(mm: MattermostEmulator, integration: Integration) -> None:
    register(mm, integration)
    dialog = {
        "callback_id": "req",
        "title": "Request",
        "elements": [{"name": "d", "display_name": "D", "type": "text"}],
    }

    def reply(request: Received) -> tuple[int, str, bytes]:
        if request.path == "/command":
            trigger = parse_qs(request.body.decode())["trigger_id"][0]
            body = {"trigger_id": trigger, "url": integration.url + "/dialog", "dialog": dialog}
            requests.post(f"{mm.url}/api/v4/actions/dialogs/open", json=body, timeout=10)
            return 200, "application/json", b""
        if request.json()["submission"]["d"] == "bad":
            return json_reply({"errors": {"d": "Use forms like 30m"}})
        return json_reply({})

    integration.reply = reply
    channel_id = mm.channel_id("jit-approvals")
    api(mm, "POST", "/commands/execute", "alice", json={"channel_id": channel_id, "command": "/jit request"})
    body = {
        "url": integration.url + "/dialog",
        "channel_id": channel_id,
        "callback_id": "req",
        "submission": {"d": "bad"},
    }
    first = api(mm, "POST", "/actions/dialogs/submit", "alice", json=body)
    assert first.json() == {"errors": {"d": "Use forms like 30m"}}
    second = api(mm, "POST", "/actions/dialogs/submit", "alice", json=body | {"submission": {"d": "1h"}})
    assert second.json() == {"status": "OK"}
    assert integration.received[-1].json()["user_id"] == mm.user("alice").id


def test_page_and_session_helper(mm: MattermostEmulator) -> None:
    page = requests.get(f"{mm.url}/", timeout=10)
    assert page.status_code == 200
    assert '<script src="/static/app.js">' in page.text
    assert requests.get(f"{mm.url}/static/app.js", timeout=10).headers["content-type"].startswith("text/javascript")
    climb = "/static/" + "%2E%2E" + "/server.py"  # a path climbing out of the page folder
    assert requests.get(f"{mm.url}{climb}", timeout=10).status_code == 404
    session = requests.get(f"{mm.url}/_sandbox/session", timeout=10).json()
    people = {u["username"]: u for u in session["users"]}
    assert people["alice"]["token"] == mm.token("alice")
    assert people["jit-bot"]["is_bot"] and people["jit-bot"]["token"] == ""


def test_page_helpers_answer_loopback_clients_only() -> None:
    def request_from(client: str, host: str = "127.0.0.1:8065") -> Request:
        headers = [(b"host", host.encode())]
        return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (client, 40000)})

    assert is_loopback(request_from("127.0.0.1"))
    assert is_loopback(request_from("127.0.0.1", "localhost:8065"))
    assert is_loopback(request_from("::1", "[::1]:8065"))
    assert not is_loopback(request_from("192.0.2.10"))
    assert not is_loopback(request_from("127.0.0.1", "rebound.example.com:8065"))  # DNS rebinding
