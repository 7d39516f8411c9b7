"""Key rotation drill (runbook 02) against the local stack: add, switch the bot, promote, retire."""

from __future__ import annotations

import json
import stat

import pytest

from backend.auth.keyset import KeyStatus
from jitwire.b64url import b64url_decode
from jitwire.client import BackendError, JitApiClient
from jitwire.signing import RequestSigner, SigningKey
from tests.admin.conftest import ALICE


def _bot(stack, key_file) -> JitApiClient:
    """A bot replica configured with the key file jit-admin wrote."""
    data = json.loads(key_file.read_text(encoding="utf-8"))
    signer = RequestSigner(SigningKey(key_id=data["key_id"], secret=b64url_decode(data["secret"])), data["audience"])
    return JitApiClient(stack.api_url, signer)


def _accepted(bot: JitApiClient) -> bool:
    try:
        bot.catalog(ALICE)
    except BackendError as exc:
        if exc.status != 401:
            raise
        return False
    return True


def _new_api_container(stack) -> None:
    """A cold Lambda container: its key cache starts empty (a warm one refreshes within 5 minutes)."""
    stack.restart_api_process()


def test_rotation_drill_no_valid_request_rejected_and_retired_key_refused(stack, admin, tmp_path):
    old_bot = stack.client()
    old_id = stack.provisioned.bot_key_id
    key_file = tmp_path / "bot-key-new.json"
    assert _accepted(old_bot)

    added = admin("keys", "add", "bot-2026-12", "--write-secret-to", str(key_file))
    assert added.code == 0, added.output
    new_bot = _bot(stack, key_file)
    # Overlap: the bot replicas switch one by one; both keys must work the whole time.
    assert _accepted(old_bot)
    assert _accepted(new_bot)

    promoted = admin("keys", "promote", "bot-2026-12", "--overlap", "2h")
    assert promoted.code == 0, promoted.output
    assert _accepted(old_bot)
    assert _accepted(new_bot)
    _new_api_container(stack)
    assert _accepted(old_bot)
    assert _accepted(new_bot)

    retired = admin("keys", "retire", old_id, answers=[old_id])
    assert retired.code == 0, retired.output
    _new_api_container(stack)
    assert not _accepted(old_bot)
    assert _accepted(new_bot)

    keyset = admin.clients.secretsmanager.get_secret_value(SecretId=stack.settings.keyset_secret_id)["SecretString"]
    statuses = {k["id"]: k["status"] for k in json.loads(keyset)["keys"]}
    assert statuses == {"bot-2026-12": KeyStatus.ACTIVE.value, old_id: KeyStatus.RETIRED.value}


def test_key_listing_and_add_never_print_secrets(stack, admin, tmp_path):
    key_file = tmp_path / "k.json"
    added = admin("keys", "add", "bot-next", "--write-secret-to", str(key_file))
    listed = admin("keys", "list")
    secret = json.loads(key_file.read_text(encoding="utf-8"))["secret"]
    old_secret = json.loads(stack.key_file.read_text(encoding="utf-8"))["secret"]

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "bot-next" in listed.output
    assert "verify_only" in listed.output
    for output in (added.output, listed.output):
        assert secret not in output
        assert old_secret not in output


def test_add_refuses_to_overwrite_a_file_and_leaves_the_set_unchanged(stack, admin, tmp_path):
    key_file = tmp_path / "existing.json"
    key_file.write_text("keep me", encoding="utf-8")
    result = admin("keys", "add", "bot-next", "--write-secret-to", str(key_file))
    assert result.code != 0
    assert key_file.read_text(encoding="utf-8") == "keep me"
    assert "bot-next" not in admin("keys", "list").output


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["keys", "promote", "nope"], "unknown key id 'nope'"),
        (["keys", "retire", "{active}", "--yes", "--confirm", "{active}"], "cannot retire the active key"),
    ],
)
def test_key_mistakes_are_refused_with_a_clear_message(stack, admin, argv, message):
    active = stack.provisioned.bot_key_id
    result = admin(*[a.replace("{active}", active) for a in argv])
    assert result.code == 1
    assert message in result.output


def test_a_malformed_key_id_is_a_usage_error(admin, capsys):
    with pytest.raises(SystemExit) as exit_info:
        admin("keys", "add", "Bad_Id")
    assert exit_info.value.code == 2
    assert "key ids are 1-32 of a-z, 0-9 and '-'" in capsys.readouterr().err


def test_init_writes_the_first_key_only_into_an_empty_placeholder(stack, admin, tmp_path):
    refused = admin("keys", "init", "bot-first", "--write-secret-to", str(tmp_path / "a.json"))
    assert refused.code == 1
    assert "already holds keys" in refused.output
    assert not (tmp_path / "a.json").exists()

    admin.clients.secretsmanager.put_secret_value(SecretId=stack.settings.keyset_secret_id, SecretString='{"keys": []}')
    done = admin("keys", "init", "bot-first", "--write-secret-to", str(tmp_path / "b.json"))
    assert done.code == 0, done.output
    _new_api_container(stack)
    assert _accepted(_bot(stack, tmp_path / "b.json"))
