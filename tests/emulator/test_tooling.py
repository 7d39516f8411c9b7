"""The human CLI and the teardown check other test directories use."""

from __future__ import annotations

import json

import pytest

from sandbox.mattermost import MattermostEmulator, cli
from sandbox.mattermost.pytest_plugin import assert_no_violations


def test_cli_read_lists_channel_posts(mm: MattermostEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    mm.post_as(user="dave", channel="oncall", message="paged")
    cli.main(["--url", mm.url, "read", "oncall"])
    assert [p["message"] for p in json.loads(capsys.readouterr().out)] == ["paged"]


def test_teardown_check_fails_on_recorded_violation(mm: MattermostEmulator) -> None:
    mm.mm.violate("request", "POST /api/v4/posts", "body['message']: 5 is not of type 'string'")
    with pytest.raises(pytest.fail.Exception, match="contract violations"):
        assert_no_violations(mm)
    mm.violations.clear()
