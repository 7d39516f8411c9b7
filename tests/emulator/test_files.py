"""POST /api/v4/files and posts with file_ids: uploaded by a member, attached once, by the uploader."""

from __future__ import annotations

from sandbox.mattermost import MattermostEmulator
from tests.emulator.test_contract import api

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (640).to_bytes(4, "big") + (480).to_bytes(4, "big") + b"\x00" * 40


def _upload(mm: MattermostEmulator, user: str, channel: str) -> dict:
    response = api(
        mm,
        "POST",
        "/files",
        user=user,
        data={"channel_id": mm.channel_id(channel)},
        files={"files": ("t.png", PNG, "image/png")},
    )
    assert response.status_code == 201, response.text
    return response.json()["file_infos"][0]


def test_upload_then_attach_once_by_the_uploader(mm: MattermostEmulator) -> None:
    info = _upload(mm, "jit-bot", "jit-approvals")
    assert (info["width"], info["height"], info["size"], info["mime_type"]) == (640, 480, len(PNG), "image/png")
    body = {"channel_id": mm.channel_id("jit-approvals"), "message": "see picture", "file_ids": [info["id"]]}
    post = api(mm, "POST", "/posts", json=body)
    assert post.status_code == 201, post.text
    assert post.json()["file_ids"] == [info["id"]]
    assert api(mm, "GET", f"/files/{info['id']}/info").json()["post_id"] == post.json()["id"]
    again = api(mm, "POST", "/posts", json=body)
    assert again.status_code == 400 and "already attached" in again.json()["message"]


def test_another_users_or_unknown_file_cannot_be_attached(mm: MattermostEmulator) -> None:
    theirs = _upload(mm, "alice", "jit-approvals")
    for file_id in (theirs["id"], "nosuchfile0000000000000000"):
        body = {"channel_id": mm.channel_id("jit-approvals"), "message": "m", "file_ids": [file_id]}
        refused = api(mm, "POST", "/posts", json=body)
        assert refused.status_code == 400
    assert api(mm, "POST", "/files", data={"channel_id": mm.channel_id("jit-approvals")}).status_code == 400
