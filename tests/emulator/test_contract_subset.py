"""The committed Mattermost contract: what the emulator validates against, and how it is cut.

Everything here uses only files of this repository; the comparison with Mattermost's published file
is the drift test (test_contract_drift.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from openapi_spec_validator import validate

from sandbox.mattermost import MattermostEmulator
from sandbox.mattermost.contract import SUBSET_PATH
from sandbox.mattermost.contract.build import cut, render
from sandbox.mattermost.pytest_plugin import assert_no_violations
from sandbox.mattermost.rest import HANDLERS
from sandbox.mattermost.spec import OpenApiSpec

REPO = Path(__file__).resolve().parents[2]
REGENERATE = "re-run: python -m sandbox.mattermost.contract.build --from <published mattermost-openapi-v4.yaml>"


def api(mm: MattermostEmulator, method: str, path: str, **kw: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {mm.token('jit-bot')}"}
    return requests.request(method, f"{mm.url}/api/v4{path}", headers=headers, timeout=10, **kw)


def recorded(mm: MattermostEmulator) -> list[str]:
    """The violations so far, then cleared: the fixture's own teardown check must see none."""
    kinds = [v.kind for v in mm.violations]
    with pytest.raises(pytest.fail.Exception, match="Mattermost contract violations"):
        assert_no_violations(mm)  # what fails any test that leaves a violation behind
    mm.violations.clear()
    return kinds


def test_emulator_validates_against_the_committed_subset(spec: OpenApiSpec) -> None:
    assert spec.path == SUBSET_PATH
    assert SUBSET_PATH.resolve().is_relative_to(REPO)
    assert OpenApiSpec().path == SUBSET_PATH


def test_unknown_path_is_a_recorded_violation(mm: MattermostEmulator) -> None:
    assert api(mm, "GET", "/emoji/name/smile").status_code == 404  # a real Mattermost path the bot never uses
    assert recorded(mm) == ["unknown-route"]


def test_unknown_method_is_a_recorded_violation(mm: MattermostEmulator) -> None:
    post = api(mm, "POST", "/posts", json={"channel_id": mm.channel_id("oncall"), "message": "m"}).json()
    assert api(mm, "PATCH", f"/posts/{post['id']}").status_code == 405
    assert recorded(mm) == ["unknown-route"]


def test_published_operation_the_emulator_does_not_serve_is_a_recorded_violation(mm: MattermostEmulator) -> None:
    members = [mm.user("alice").id, mm.user("bob").id, mm.user("carol").id]
    response = api(mm, "POST", "/channels/group", json=members)  # CreateGroupChannel: Mattermost's, not emulated
    assert response.status_code == 501
    assert "CreateGroupChannel" in response.json()["message"]
    assert recorded(mm) == ["unimplemented"]


def test_unknown_parameter_is_a_recorded_violation(mm: MattermostEmulator) -> None:
    response = api(mm, "GET", f"/channels/{mm.channel_id('oncall')}/posts", params={"not_a_parameter": "1"})
    assert response.status_code == 400
    assert recorded(mm) == ["request"]


def test_body_violating_the_schema_is_a_recorded_violation(mm: MattermostEmulator) -> None:
    response = api(mm, "POST", "/users/login", json={"login_id": "alice", "password": 7})
    assert response.status_code == 400
    assert recorded(mm) == ["request"]


def test_a_path_the_server_routes_elsewhere_does_not_reach_a_kept_template(mm: MattermostEmulator) -> None:
    """`/users/stats` is its own route on the server, not `GetUser` with user_id="stats"."""
    assert api(mm, "GET", "/users/stats").status_code == 501
    assert recorded(mm) == ["unimplemented"]


def test_subset_holds_exactly_the_emulated_operations() -> None:
    doc = yaml.safe_load(SUBSET_PATH.read_text(encoding="utf-8"))
    operations = [op["operationId"] for item in doc["paths"].values() for op in item.values() if "operationId" in op]
    assert sorted(operations) == sorted(HANDLERS), REGENERATE


def test_subset_is_a_valid_self_contained_openapi_document() -> None:
    validate(yaml.safe_load(SUBSET_PATH.read_text(encoding="utf-8")))  # every $ref resolves inside it


PUBLISHED: dict[str, Any] = {
    "openapi": "3.0.0",
    "info": {"title": "t", "version": "1"},
    "tags": [{"name": "users"}, {"name": "teams"}],
    "security": [{"bearerAuth": []}],
    "paths": {
        "/api/v4/users/{user_id}": {
            "get": {
                "operationId": "GetUser",
                "tags": ["users"],
                "parameters": [{"name": "user_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/User"}}},
                    },
                    "404": {"$ref": "#/components/responses/NotFound"},
                },
            },
            "delete": {"operationId": "DeleteUser", "tags": ["users"], "responses": {}},
        },
        "/api/v4/users/stats": {"get": {"operationId": "GetTotalUsersStats", "responses": {}}},
        "/api/v4/users/{user_id}/image": {"get": {"operationId": "GetProfileImage", "responses": {}}},
        "/api/v4/teams": {"get": {"operationId": "GetAllTeams", "tags": ["teams"], "responses": {}}},
    },
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        "responses": {
            "NotFound": {
                "description": "x",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AppError"}}},
            }
        },
        "schemas": {
            "User": {"type": "object", "properties": {"timezone": {"$ref": "#/components/schemas/Timezone"}}},
            "Timezone": {"type": "object"},
            "AppError": {"type": "object"},
            "Team": {"type": "object"},
        },
    },
}


def test_cut_keeps_operations_their_components_transitively_and_shadowing_paths() -> None:
    subset = cut(PUBLISHED, {"GetUser"})
    assert subset["paths"] == {
        "/api/v4/users/{user_id}": {
            "get": PUBLISHED["paths"]["/api/v4/users/{user_id}"]["get"],
            "x-not-emulated": {"delete": "DeleteUser"},
        },
        "/api/v4/users/stats": {"x-not-emulated": {"get": "GetTotalUsersStats"}},
    }
    assert sorted(subset["components"]["schemas"]) == ["AppError", "Timezone", "User"]
    assert list(subset["components"]["responses"]) == ["NotFound"]
    assert subset["components"]["securitySchemes"] == {"bearerAuth": {"type": "http", "scheme": "bearer"}}
    assert subset["tags"] == [{"name": "users"}]
    validate(subset)


def test_cut_refuses_an_operation_the_published_file_lacks() -> None:
    with pytest.raises(ValueError, match="NoSuchOperation"):
        cut(PUBLISHED, {"GetUser", "NoSuchOperation"})


def test_render_is_deterministic_whatever_the_input_order() -> None:
    shuffled = dict(reversed(list(PUBLISHED.items())))
    shuffled["paths"] = dict(reversed(list(PUBLISHED["paths"].items())))
    assert render(cut(shuffled, {"GetUser"})) == render(cut(PUBLISHED, {"GetUser"}))
