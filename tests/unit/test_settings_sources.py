"""Both settings classes read only the mapping their entry point passes (docs/architecture.md, "Settings")."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import ValidationError

from backend.settings import BackendSettings
from bot.settings import BotSettings, parse_env_file

KEY = base64.urlsafe_b64encode(b"k" * 32).decode().rstrip("=")
BOT_ENV = {
    "BOT_MATTERMOST_URL": "https://chat.example.com",
    "BOT_MATTERMOST_TOKEN": "mm-token",
    "BOT_TEAM_NAME": "jit",
    "BOT_PUBLIC_URL": "https://jit-bot.internal",
    "BOT_BACKEND_URL": "https://api.example.com/prod",
    "BOT_BACKEND_KEY_ID": "bot-1",
    "BOT_BACKEND_KEY_SECRET": KEY,
    "BOT_BACKEND_AUDIENCE": "jit-api.test",
    "BOT_ACTION_KEY": KEY,
}
JIT_ENV = {
    "JIT_AUDIENCE": "jit-api.test",
    "JIT_KEYSET_SECRET_ID": "jit/hmac-keyset",
    "JIT_STATE_MACHINE_ARN": "arn:aws:states:eu-central-1:1:stateMachine:jit-access",
    "JIT_EVENTS_TOPIC_ARN": "arn:aws:sns:eu-central-1:1:jit-events",
    "JIT_IDENTITY_CENTER_INSTANCE_ARN": "arn:aws:sso:::instance/ssoins-1",
    "JIT_IDENTITY_STORE_ID": "d-1",
}


def test_the_process_environment_never_leaks_into_the_bot_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_LISTEN_PORT", "9999")
    monkeypatch.setenv("BOT_TEAM_NAME", "from-os-environ")
    settings = BotSettings.load(BOT_ENV)
    assert (settings.listen_port, settings.team_name) == (8080, "jit")
    built = BotSettings(**{k.removeprefix("BOT_").lower(): v for k, v in BOT_ENV.items()})
    assert built.listen_port == 8080


def test_the_process_environment_never_leaks_into_the_backend_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIT_METRICS", "cloudwatch")
    monkeypatch.setenv("JIT_ENDPOINT_URL", "http://127.0.0.1:1")
    settings = BackendSettings.from_env(JIT_ENV | {"AWS_REGION": "eu-west-1"})
    assert (settings.metrics, settings.endpoint_url, settings.region) == ("emf", None, "eu-west-1")
    built = BackendSettings(region="eu-west-1", **{k.removeprefix("JIT_").lower(): v for k, v in JIT_ENV.items()})
    assert built.metrics == "emf"


def test_backend_names_are_exact_and_other_jit_variables_are_not_settings() -> None:
    env = JIT_ENV | {"JIT_REGION": "eu-north-1", "AWS_REGION": "eu-west-1", "jit_metrics": "x", "JIT_OPERATOR": "a@b"}
    settings = BackendSettings.from_env(env)
    assert (settings.region, settings.metrics) == ("eu-north-1", "emf")
    with pytest.raises(ValidationError, match="region"):
        BackendSettings.from_env(JIT_ENV)


def test_the_config_file_is_read_as_dotenv_without_expanding_variables(tmp_path: Path) -> None:
    path = tmp_path / "bot.env"
    lines = [f"{k}={v}" for k, v in BOT_ENV.items() if k != "BOT_TEAM_NAME"]
    path.write_text("\n".join([*lines, "export BOT_TEAM_NAME='my team'", 'BOT_AWS_PORTAL_URL="${HOME}/start"']))
    settings = BotSettings.load({"BOT_CONFIG_FILE": str(path), "HOME": "/root"})
    assert (settings.team_name, settings.aws_portal_url) == ("my team", "${HOME}/start")


def test_a_config_line_that_cannot_be_read_is_named_not_skipped() -> None:
    assert parse_env_file("# settings\n\nBOT_A=1 # why\nBOT_B=\n") == {"BOT_A": "1", "BOT_B": ""}
    with pytest.raises(ValueError, match="line 4"):
        parse_env_file("BOT_A=1\n\n  \nnot a pair\n")
    with pytest.raises(ValueError, match="line 2"):
        parse_env_file("BOT_A=1\nBOT_B\n")


def test_secrets_come_from_a_mounted_folder_under_the_file_and_the_environment(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    folder.mkdir()
    (folder / "bot_mattermost_token").write_text("token-from-folder\n")
    (folder / "BOT_ACTION_KEY").write_text(KEY)  # names match in any case, as pydantic-settings reads them
    (folder / "bot_team_name").write_text("folder-team")
    (folder / "unrelated").write_text("a mounted folder may hold more")
    config = tmp_path / "bot.env"
    config.write_text("BOT_TEAM_NAME=file-team\n")
    env = {k: v for k, v in BOT_ENV.items() if k not in ("BOT_MATTERMOST_TOKEN", "BOT_ACTION_KEY", "BOT_TEAM_NAME")}
    settings = BotSettings.load(env | {"BOT_SECRETS_DIR": str(folder), "BOT_CONFIG_FILE": str(config)})
    assert settings.mattermost_token.get_secret_value() == "token-from-folder"
    assert settings.action_key_bytes() == b"k" * 32
    assert settings.team_name == "file-team"  # the file over the folder
    overridden = BotSettings.load(BOT_ENV | {"BOT_SECRETS_DIR": str(folder)})
    assert overridden.mattermost_token.get_secret_value() == "mm-token"  # the environment over both


def test_a_secrets_folder_that_is_missing_is_named() -> None:
    with pytest.raises(ValueError, match="BOT_SECRETS_DIR /nonexistent/secrets is not a folder"):
        BotSettings.load(BOT_ENV | {"BOT_SECRETS_DIR": "/nonexistent/secrets"})
