"""What a caller sees of other users, and GET /config/client, as Mattermost sanitises and serves them."""

from __future__ import annotations

import pytest
from mattermostdriver.exceptions import NotEnoughPermissions

from sandbox.mattermost import MattermostEmulator
from tests.emulator.test_driver import driver_for


@pytest.fixture
def sso_alice(mm: MattermostEmulator) -> str:
    with mm.mm.store.lock:
        mm.user("alice").auth_service = "saml"
    return mm.user("alice").id


def test_a_member_bot_sees_no_auth_service_and_no_email_verified(mm: MattermostEmulator, sso_alice: str) -> None:
    profile = driver_for(mm).users.get_user(sso_alice)
    assert profile["auth_service"] == ""
    assert "email_verified" not in profile
    assert profile["email"] == "alice@example.com"  # ShowEmailAddress is on by default


def test_a_system_admin_sees_auth_service_but_still_no_email_verified(mm: MattermostEmulator, sso_alice: str) -> None:
    with mm.mm.store.lock:
        mm.user("jit-bot").system_admin = True
    profile = driver_for(mm).users.get_user(sso_alice)
    assert profile["auth_service"] == "saml"
    assert "email_verified" not in profile


def test_only_the_user_themself_sees_email_verified(mm: MattermostEmulator, sso_alice: str) -> None:
    me = driver_for(mm, "alice").users.get_user("me")
    assert (me["email_verified"], me["auth_service"]) == (True, "saml")


def test_hidden_email_addresses_are_blank_and_lookup_by_email_is_forbidden(mm: MattermostEmulator) -> None:
    mm.set_client_config(ShowEmailAddress="false", ShowFullName="false")
    bot = driver_for(mm)
    profile = bot.users.get_user(mm.user("alice").id)
    assert (profile["email"], profile["first_name"]) == ("", "")
    with pytest.raises(NotEnoughPermissions):
        bot.users.get_user_by_email("alice@example.com")
    admin = driver_for(mm, "admin").users.get_user(mm.user("alice").id)
    assert (admin["email"], admin["first_name"]) == ("alice@example.com", "Alice")


def test_client_config_is_a_flat_map_of_strings_any_account_may_read(mm: MattermostEmulator) -> None:
    config = driver_for(mm, "alice").client.get("/config/client")
    assert all(isinstance(v, str) for v in config.values())
    assert config["RequireEmailVerification"] == "true"  # config/mattermost-sandbox.yaml
    assert config["EnableSignInWithEmail"] == "true"  # Mattermost's default
    mm.set_client_config(EnableOpenServer="true")
    assert driver_for(mm).client.get("/config/client")["EnableOpenServer"] == "true"


def test_an_added_account_and_an_email_change(mm: MattermostEmulator) -> None:
    mallory = mm.add_user("mallory", email="dave@example.com")
    assert driver_for(mm).users.get_user(mallory.id)["email"] == "dave@example.com"
    mm.change_email("alice", "alice@evil.example")
    me = driver_for(mm, "alice").users.get_user("me")
    assert (me["email"], me["email_verified"]) == ("alice@evil.example", False)
