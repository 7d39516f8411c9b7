"""The bot's library, mattermostdriver 7.3.2, against the emulator."""

from __future__ import annotations

import pytest
from mattermostdriver import Driver
from mattermostdriver.exceptions import InvalidOrMissingParameters, ResourceNotFound

from sandbox.mattermost import MattermostEmulator
from tests.emulator.conftest import FakeClock


def driver_for(mm: MattermostEmulator, user: str = "jit-bot") -> Driver:
    driver = Driver({"url": "127.0.0.1", "port": mm.port, "scheme": "http", "token": mm.token(user)})
    driver.login()
    return driver


def test_login_with_bot_token_learns_bot_identity(mm: MattermostEmulator) -> None:
    driver = driver_for(mm)
    assert driver.client.userid == mm.user("jit-bot").id
    assert driver.client.username == "jit-bot"


def test_create_post_and_read_it_back(mm: MattermostEmulator) -> None:
    driver = driver_for(mm)
    channel = driver.channels.get_channel_by_name_and_team_name("jit", "jit-approvals")
    post = driver.posts.create_post({"channel_id": channel["id"], "message": "hello approvers"})
    assert post["props"]["from_bot"] == "true"
    assert driver.posts.get_post(post["id"])["message"] == "hello approvers"
    assert [p["message"] for p in mm.posts("jit-approvals")] == ["hello approvers"]


def test_user_by_email_and_direct_channel(mm: MattermostEmulator) -> None:
    driver = driver_for(mm)
    alice = driver.users.get_user_by_email("alice@example.com")
    assert alice["username"] == "alice"
    channel = driver.channels.create_direct_message_channel([driver.client.userid, alice["id"]])
    assert channel["type"] == "D"
    assert channel["name"] == "__".join(sorted([driver.client.userid, alice["id"]]))
    driver.posts.create_post({"channel_id": channel["id"], "message": "your request"})
    assert [p["message"] for p in mm.direct_posts("alice", "jit-bot")] == ["your request"]


def test_update_blanks_props_but_patch_keeps_them(mm: MattermostEmulator) -> None:
    driver = driver_for(mm)
    channel_id = mm.channel_id("jit-approvals")
    post = driver.posts.create_post({"channel_id": channel_id, "message": "v1", "props": {"k": "v"}})
    patched = driver.posts.patch_post(post["id"], {"message": "v2"})
    assert (patched["message"], patched["props"]["k"]) == ("v2", "v")
    updated = driver.posts.update_post(post["id"], {"id": post["id"], "message": "v3"})
    assert updated["message"] == "v3"
    assert "k" not in updated["props"]
    assert updated["edit_at"] > 0


def test_open_dialog_valid_then_stale_trigger(mm: MattermostEmulator, integration: object, clock: FakeClock) -> None:
    driver = driver_for(mm)
    trigger = mm.mm.new_trigger(mm.user("alice"), mm.channel_id("jit-approvals"), mm.team_id)
    dialog = {
        "trigger_id": trigger,
        "url": "http://127.0.0.1:9/dialog",
        "dialog": {"title": "Request", "elements": [{"name": "reason", "display_name": "Reason", "type": "text"}]},
    }
    assert driver.integration_actions.open_dialog(dialog) == {"status": "OK"}
    assert [e.event for e in mm.events("alice", "open_dialog")] == ["open_dialog"]
    clock.advance(31)
    with pytest.raises(InvalidOrMissingParameters):
        driver.integration_actions.open_dialog(dialog)


def test_driver_update_command_bug_path_is_404_and_recorded(mm: MattermostEmulator) -> None:
    driver = driver_for(mm)
    with pytest.raises(ResourceNotFound):
        driver.commands.update_command("abc", {"id": "abc"})
    assert [v.kind for v in mm.violations] == ["unknown-route"]
    assert "/api/v4/commandsabc" in mm.violations[0].where
    mm.violations.clear()


def test_pin_survives_a_patch_but_not_a_full_update_that_omits_it(mm: MattermostEmulator) -> None:
    bot = driver_for(mm)
    admin = driver_for(mm, "admin")
    post = bot.posts.create_post({"channel_id": mm.channel_id("jit-approvals"), "message": "card"})
    assert admin.posts.pin_post_to_channel(post["id"]) == {"status": "OK"}
    assert mm.stored_post(post["id"])["is_pinned"] is True
    patched = bot.posts.patch_post(post["id"], {"message": "card v2", "props": {"attachments": []}})
    assert (patched["message"], patched["is_pinned"]) == ("card v2", True)
    # PUT /posts/{id} replaces the post: a body without is_pinned unpins it, as the server does.
    updated = bot.posts.update_post(post["id"], {"id": post["id"], "message": "card v3", "props": {}})
    assert updated["is_pinned"] is False
