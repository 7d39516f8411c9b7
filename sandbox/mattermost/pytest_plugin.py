"""Pytest fixture for any test directory: `pytest_plugins = ["sandbox.mattermost.pytest_plugin"]`.

`mattermost` yields a running emulator and fails the test at teardown if any contract violation
was recorded, so a bot that calls a path or sends a body the spec does not allow cannot pass.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.mattermost.server import MattermostEmulator


def assert_no_violations(emulator: MattermostEmulator) -> None:
    if emulator.violations:
        lines = "\n".join(f"  {v!r}" for v in emulator.violations)
        pytest.fail(f"Mattermost contract violations:\n{lines}", pytrace=False)


@pytest.fixture
def mattermost() -> Iterator[MattermostEmulator]:
    with MattermostEmulator() as emulator:
        yield emulator
    assert_no_violations(emulator)
