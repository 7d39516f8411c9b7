"""Spec validation of requests and replies, auth, and the post rules (docs/architecture.md, "Buttons and clicks"; docs/architecture.md, "Message limits and mentions")."""

from __future__ import annotations

import json
from typing import Any

import requests

from sandbox.mattermost import MattermostEmulator
from sandbox.mattermost.spec import OpenApiSpec


def api(mm: MattermostEmulator, method: str, path: str, user: str = "jit-bot", **kw: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {mm.token(user)}"}
    return requests.request(method, f"{mm.url}/api/v4{path}", headers=headers, timeout=10, **kw)


def button_post(mm: MattermostEmulator, action_id: str) -> dict[str, Any]:
    action = {
        "id": action_id,
        "name": "Approve",
        "type": "button",
        "integration": {"url": "http://127.0.0.1:9/click", "context": {"secret": "s3cr3t"}},
    }
    return {
        "channel_id": mm.channel_id("jit-approvals"),
        "message": "m",
        "props": {"attachments": [{"actions": [action]}]},
    }


def test_missing_or_bad_token_is_401_with_app_error_body(mm: MattermostEmulator) -> None:
    response = requests.get(f"{mm.url}/api/v4/users/me", timeout=10)
    assert response.status_code == 401
    assert set(response.json()) >= {"id", "message", "detailed_error", "status_code"}
    bad = requests.get(f"{mm.url}/api/v4/users/me", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert bad.status_code == 401


def test_integration_is_stripped_over_rest_and_websocket(mm: MattermostEmulator) -> None:
    created = api(mm, "POST", "/posts", json=button_post(mm, "approve")).json()
    fetched = api(mm, "GET", f"/posts/{created['id']}").json()
    listed = api(mm, "GET", f"/channels/{mm.channel_id('jit-approvals')}/posts").json()
    socket_post = json.loads(mm.events("alice", "posted")[0].data["post"])
    for post in (created, fetched, listed["posts"][created["id"]], socket_post):
        assert "integration" not in post["props"]["attachments"][0]["actions"][0]
    stored = mm.stored_post(created["id"])
    assert stored["props"]["attachments"][0]["actions"][0]["integration"]["context"] == {"secret": "s3cr3t"}


def test_non_alphanumeric_action_id_refused_on_create_and_update(mm: MattermostEmulator) -> None:
    assert api(mm, "POST", "/posts", json=button_post(mm, "approve_1")).status_code == 400
    post = api(mm, "POST", "/posts", json=button_post(mm, "approve1")).json()
    bad_props = button_post(mm, "approve-1")["props"]
    response = api(mm, "PUT", f"/posts/{post['id']}", json={"id": post["id"], "message": "x", "props": bad_props})
    assert response.status_code == 400
    assert response.json()["id"] == "model.post.is_valid.action_id.app_error"


def test_empty_action_id_is_filled_with_alphanumeric_id(mm: MattermostEmulator) -> None:
    post = api(mm, "POST", "/posts", json=button_post(mm, "")).json()
    assert post["props"]["attachments"][0]["actions"][0]["id"].isalnum()


def test_message_limit_is_16383_runes(mm: MattermostEmulator) -> None:
    channel_id = mm.channel_id("jit-approvals")
    ok = api(mm, "POST", "/posts", json={"channel_id": channel_id, "message": "é" * 16383})
    too_long = api(mm, "POST", "/posts", json={"channel_id": channel_id, "message": "é" * 16384})
    assert (ok.status_code, too_long.status_code) == (201, 400)


def test_body_violating_spec_is_400_and_recorded(mm: MattermostEmulator) -> None:
    response = api(mm, "POST", "/posts", json={"channel_id": mm.channel_id("oncall"), "message": 5})
    assert response.status_code == 400
    assert [v.kind for v in mm.violations] == ["request"]
    assert "message" in mm.violations[0].detail
    mm.violations.clear()


def test_direct_channel_needs_exactly_two_ids(mm: MattermostEmulator) -> None:
    response = api(mm, "POST", "/channels/direct", json=[mm.user("alice").id])
    assert response.status_code == 400
    assert mm.violations[0].kind == "request"
    mm.violations.clear()


def test_unknown_path_and_wrong_method_are_recorded(mm: MattermostEmulator) -> None:
    assert api(mm, "GET", "/no/such/thing").status_code == 404
    assert api(mm, "PATCH", "/posts").status_code == 405
    assert [v.kind for v in mm.violations] == ["unknown-route", "unknown-route"]
    mm.violations.clear()


def test_unknown_query_parameter_is_recorded(mm: MattermostEmulator) -> None:
    assert api(mm, "GET", "/users/me", params={"bogus": "1"}).status_code == 400
    assert "bogus" in mm.violations[0].detail
    mm.violations.clear()


def test_ephemeral_rest_is_forbidden_for_member_bot(mm: MattermostEmulator) -> None:
    body = {"user_id": mm.user("alice").id, "post": {"channel_id": mm.channel_id("oncall"), "message": "hi"}}
    assert api(mm, "POST", "/posts/ephemeral", json=body).status_code == 403
    assert api(mm, "POST", "/posts/ephemeral", user="admin", json=body).status_code == 201
    assert [p["message"] for p in mm.ephemerals("alice")] == ["hi"]


def test_replies_match_spec_schemas(mm: MattermostEmulator, spec: OpenApiSpec) -> None:
    team = api(mm, "GET", "/teams/name/jit").json()
    command = api(
        mm,
        "POST",
        "/commands",
        json={"team_id": team["id"], "trigger": "JIT", "url": "http://127.0.0.1:9/c", "method": "P"},
    ).json()
    assert command["trigger"] == "jit"
    listed = api(mm, "GET", "/commands", params={"team_id": team["id"], "custom_only": "true"}).json()
    assert listed[0]["token"] == command["token"]
    samples = {
        "User": api(mm, "GET", "/users/username/alice").json(),
        "Channel": api(mm, "GET", f"/teams/{team['id']}/channels/name/oncall").json(),
        "Post": api(mm, "POST", "/posts", json=button_post(mm, "ok")).json(),
        "Command": command,
        "Team": team,
    }
    for name, payload in samples.items():
        assert spec.schema_errors(name, payload) == [], name
    assert spec.schema_errors("Post", {"id": 5}) != []  # the check can fail


def test_command_update_is_full_replacement_keeping_token(mm: MattermostEmulator) -> None:
    body = {"team_id": mm.team_id, "trigger": "jit", "url": "http://127.0.0.1:9/c", "method": "P", "description": "d"}
    command = api(mm, "POST", "/commands", json=body).json()
    updated = api(mm, "PUT", f"/commands/{command['id']}", json={**body, "id": command["id"], "description": ""}).json()
    assert (updated["token"], updated["description"]) == (command["token"], "")
    assert api(mm, "POST", "/commands", user="alice", json=body | {"trigger": "x"}).status_code == 403
