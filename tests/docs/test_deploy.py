"""docs/deploy.md and deploy/jit-bot.service agree with the code: the file the bot reads, its entry point, its stop budget."""

from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(ROOT / "deploy" / "jit-bot.service", encoding="utf-8")
    return parser


def test_the_unit_runs_the_installed_entry_point_with_the_documented_environment_file():
    service = _unit()["Service"]
    docs = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert service["ExecStart"] == "/opt/jit-bot/venv/bin/jit-bot"
    assert service["ExecStartPre"] == "/opt/jit-bot/venv/bin/jit-bot --check-config"
    assert service["Environment"] == "BOT_CONFIG_FILE=/etc/jit-bot/jit-bot.env"
    assert "`/etc/jit-bot/jit-bot.env`" in docs
    assert service["KillSignal"] == "SIGTERM"


def test_systemd_waits_longer_than_the_bots_graceful_stop():
    from bot import runtime

    source = Path(runtime.__file__).read_text(encoding="utf-8")
    assert "timeout_graceful_shutdown=5" in source  # in-flight requests
    assert "asyncio.wait(list(self._tasks), timeout=10)" in source  # background work
    assert int(_unit()["Service"]["TimeoutStopSec"]) > 5 + 10 + 5  # + websocket close


def test_the_console_scripts_are_the_documented_commands():
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["jit-bot"] == "bot.__main__:main"
    assert scripts["jit-admin"] == "jitadmin.__main__:main"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "jit-bot --help" in makefile and "jit-admin --help" in makefile
    assert "test: lint typecheck scan package" in makefile
