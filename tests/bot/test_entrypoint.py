"""``jit-bot`` as users run it: --help without settings, --check-config, and the runbooks of a wheel install."""

from __future__ import annotations

import base64
import tomllib
from pathlib import Path

import pytest

from bot import __main__ as entry
from bot.runbooks import SHARE, default_runbooks_dir

ROOT = Path(__file__).resolve().parents[2]


def test_help_needs_no_settings_and_names_every_variable(capsys, monkeypatch):
    for key in [k for k in __import__("os").environ if k.startswith("BOT_")]:
        monkeypatch.delenv(key)
    with pytest.raises(SystemExit) as exit_:
        entry.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "SIGTERM" in out
    for variable in ("BOT_CONFIG_FILE", "BOT_MATTERMOST_URL", "BOT_MATTERMOST_TOKEN", "BOT_LISTEN_PORT"):
        assert variable in out


def _valid_env() -> dict[str, str]:
    key = base64.urlsafe_b64encode(b"k" * 32).decode()
    return {
        "BOT_MATTERMOST_URL": "https://chat.example.com",
        "BOT_MATTERMOST_TOKEN": "t",
        "BOT_TEAM_NAME": "jit",
        "BOT_PUBLIC_URL": "https://bot.example.com",
        "BOT_BACKEND_URL": "https://api.example.com/v1",
        "BOT_BACKEND_KEY_ID": "bot-1",
        "BOT_BACKEND_KEY_SECRET": key,
        "BOT_BACKEND_AUDIENCE": "jit-test",
        "BOT_ACTION_KEY": base64.urlsafe_b64encode(b"a" * 32).decode(),
        "BOT_SNS_ALLOWED_TOPICS": "arn:aws:sns:eu-central-1:123456789012:jit-events",
    }


def test_check_config_validates_the_environment_file(tmp_path, capsys, monkeypatch):
    for key in [k for k in __import__("os").environ if k.startswith("BOT_")]:
        monkeypatch.delenv(key)
    env_file = tmp_path / "jit-bot.env"
    env_file.write_text("\n".join(f"{k}={v}" for k, v in _valid_env().items()), encoding="utf-8")
    monkeypatch.setenv("BOT_CONFIG_FILE", str(env_file))
    assert entry.main(["--check-config"]) == 0
    assert capsys.readouterr().out.strip() == "OK"
    monkeypatch.setenv("BOT_ACTION_KEY", "short")
    assert entry.main(["--check-config"]) == 2
    assert "invalid settings" in capsys.readouterr().err


def test_an_installed_wheel_reads_the_runbooks_it_ships(tmp_path):
    fake_package = tmp_path / "site-packages" / "bot" / "runbooks.py"
    assert default_runbooks_dir(str(fake_package), str(tmp_path / "venv")) == tmp_path / "venv" / SHARE
    assert default_runbooks_dir() == ROOT / "docs" / "runbooks"  # a checkout reads them in place
    data_files = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "data-files"
    ]
    assert data_files == {SHARE.as_posix(): ["docs/runbooks/*.md"]}
