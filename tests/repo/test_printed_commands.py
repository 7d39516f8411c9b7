"""The commands `make run` prints work when pasted into a fresh shell in the project folder."""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sandbox.__main__ import describe
from sandbox.mattermost import MattermostEmulator

REPO = Path(__file__).resolve().parents[2]


class Parsed(Exception):
    """Raised instead of running a command once its arguments parsed."""


def printed_commands() -> list[list[str]]:
    text = describe("http://127.0.0.1:8787", "http://127.0.0.1:5055", MattermostEmulator(port=8065), 8090)
    lines = [line.replace("<post id>", "a1b2c3") for line in text.splitlines() if " -m " in line]
    return [shlex.split(line, comments=True) for line in lines]


def test_start_up_text_prints_runnable_commands() -> None:
    commands = printed_commands()
    assert {argv[2] for argv in commands} == {"sandbox.mattermost.cli", "jitlocal.fire_alarm"}
    for argv in commands:
        interpreter = REPO / argv[0]  # relative to the project folder, where the shell is
        assert interpreter.is_file(), argv
        assert argv[1] == "-m", argv


@pytest.mark.parametrize("argv", printed_commands(), ids=lambda argv: " ".join(argv[2:5]))
def test_each_printed_command_parses(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    original = argparse.ArgumentParser.parse_args

    def parse_then_stop(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        raise Parsed(original(self, *args, **kwargs))  # argparse exits 2 on any argument it refuses

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    with pytest.raises(Parsed):
        importlib.import_module(argv[2]).main(argv[3:])


@pytest.mark.parametrize("module", ["sandbox.mattermost.cli", "jitlocal.fire_alarm"])
def test_printed_interpreter_runs_the_module_from_the_project_folder(module: str) -> None:
    interpreter = next(argv[0] for argv in printed_commands() if argv[2] == module)
    fresh_shell = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    result = subprocess.run(
        [interpreter, "-m", module, "--help"],
        check=False,
        cwd=REPO,
        env=fresh_shell,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:")
