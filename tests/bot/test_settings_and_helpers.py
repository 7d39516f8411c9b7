from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.direct import command_text, owned_by
from bot.explain import UNREACHABLE, explain
from bot.settings import BotSettings, parse_env_file
from jitwire.client import BackendError, BackendUnavailable

KEY = base64.urlsafe_b64encode(b"a" * 32).decode().rstrip("=")
ENV = {
    "BOT_MATTERMOST_URL": "https://chat.example.com/",
    "BOT_MATTERMOST_TOKEN": "secret-mm-token",
    "BOT_TEAM_NAME": "jit",
    "BOT_PUBLIC_URL": "https://jit-bot.internal",
    "BOT_BACKEND_URL": "https://api.example.com/prod",
    "BOT_BACKEND_KEY_ID": "bot-2026-11",
    "BOT_BACKEND_KEY_SECRET": KEY,
    "BOT_BACKEND_AUDIENCE": "jit-api.prod",
    "BOT_ACTION_KEY": KEY,
    "BOT_SNS_ALLOWED_TOPICS": "arn:aws:sns:eu-central-1:1:jit-events, arn:aws:sns:eu-central-1:1:jit-alarms",
    "HOME": "/root",
}


def test_from_environment_and_secrets_never_shown() -> None:
    settings = BotSettings.load(ENV)
    assert settings.mattermost_url == "https://chat.example.com"
    assert settings.sns_allowed_topics == (
        "arn:aws:sns:eu-central-1:1:jit-events",
        "arn:aws:sns:eu-central-1:1:jit-alarms",
    )
    assert settings.sns_trust_mode == "aws"
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    assert "secret-mm-token" not in shown
    assert KEY not in shown
    assert settings.action_key_bytes() == b"a" * 32


def test_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "bot.env"
    path.write_text("\n".join(f"{k}={v}" for k, v in ENV.items()) + "\n# comment\nBOT_LISTEN_PORT=9000\n")
    settings = BotSettings.load({"BOT_CONFIG_FILE": str(path), "BOT_LISTEN_PORT": "9100"})
    assert settings.listen_port == 9100
    assert settings.team_name == "jit"


def test_bad_values_are_refused() -> None:
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        BotSettings.load(ENV | {"BOT_ACTION_KEY": "c2hvcnQ"})
    with pytest.raises(ValidationError, match="http"):
        BotSettings.load(ENV | {"BOT_PUBLIC_URL": "ftp://x"})
    with pytest.raises(ValidationError, match="replica_index"):
        BotSettings.load(ENV | {"BOT_REPLICA_INDEX": "2", "BOT_REPLICA_COUNT": "2"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        BotSettings.load(ENV | {"BOT_TYPO": "1"})
    with pytest.raises(ValueError, match="line 1"):
        parse_env_file("not a pair")


def test_example_env_file_names_every_setting() -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "bot.example.env"
    names = {line.split("=", 1)[0].lstrip("# ").strip() for line in example.read_text().splitlines() if "=" in line}
    expected = {"BOT_" + name.upper() for name in BotSettings.model_fields}
    assert expected <= names


def test_explain_backend_failures() -> None:
    assert explain(BackendUnavailable("x")) == UNREACHABLE
    assert explain(BackendError(403, "not_authorized", "you cannot approve your own request")) == (
        "You are not allowed to do that: you cannot approve your own request."
    )
    assert (
        explain(BackendError(409, "weird", "@channel boom")) == "The access service refused this: @\u200bchannel boom."
    )
    assert "authenticate" in explain(BackendError(401, "unauthorized", "unauthorized"))
    assert "failed" in explain(BackendError(500, "internal_error", "x"))


def test_replica_ownership_partitions_posts() -> None:
    ids = [f"post{n}" for n in range(200)]
    owners = [[i for i in ids if owned_by(i, index, 3)] for index in range(3)]
    assert sorted(i for o in owners for i in o) == sorted(ids)
    assert all(len(o) > 30 for o in owners)
    assert owned_by("anything", 0, 1)


def test_command_text_in_a_dm() -> None:
    assert command_text("/jit list", "jit") == "list"
    assert command_text("jit request a b 1h c", "jit") == "request a b 1h c"
    assert command_text("  status r1 ", "jit") == "status r1"
    assert command_text("/jit", "jit") == ""


def test_direct_post_filter_ignores_own_and_non_dm_posts() -> None:
    from bot.direct import DirectMessages

    class FakeMm:
        bot_user_id = "bot"

    class FakeCore:
        mm = FakeMm()

    dms = DirectMessages(FakeCore(), "jit", 0, 1, lambda _c: None)  # type: ignore[arg-type]

    def raw(user_id: str, channel_type: str = "D", **post: object) -> str:
        body = {"id": "p1", "user_id": user_id, "channel_id": "c", "message": "list"} | post
        return json.dumps({"event": "posted", "data": {"channel_type": channel_type, "post": json.dumps(body)}})

    assert dms.direct_post(raw("alice")) is not None
    assert dms.direct_post(raw("bot")) is None
    assert dms.direct_post(raw("alice", "O")) is None
    assert dms.direct_post(raw("alice", type="system_join_channel")) is None
    assert dms.direct_post("not json") is None


def test_trusted_auth_services_are_a_comma_list_of_plain_names() -> None:
    assert BotSettings.load(ENV | {"BOT_TRUSTED_AUTH_SERVICES": "saml, openid"}).trusted_auth_services == (
        "saml",
        "openid",
    )
    with pytest.raises(ValidationError, match="not a Mattermost auth_service name"):
        BotSettings.load(ENV | {"BOT_TRUSTED_AUTH_SERVICES": "saml,SSO:x"})


def test_explain_identity_and_revoke_refusals() -> None:
    revoking = BackendError(409, "revoke_requested", "this access was revoked early; it cannot be extended")
    assert explain(revoking).startswith("This access is being revoked: this access was revoked early")
    assert explain(BackendError(403, "identity_not_vouched", "the bot cannot vouch")).startswith(
        "Your chat account cannot be linked to AWS: "
    )
    assert explain(BackendError(409, "identity_mismatch", "changed")).startswith(
        "Your chat account no longer matches its AWS link"
    )
