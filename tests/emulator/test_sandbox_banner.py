"""`make run` (python -m sandbox) names the chat page before anything else."""

from __future__ import annotations

from sandbox.__main__ import describe
from sandbox.mattermost import MattermostEmulator


def test_the_chat_page_address_comes_first(mm: MattermostEmulator) -> None:
    banner = describe("http://127.0.0.1:8787", "http://127.0.0.1:5055", mm, 8090).splitlines()
    assert banner[0] == f"Open the chat page: {mm.url}/"
    assert any("python -m sandbox.mattermost.cli" in line for line in banner)  # the CLI stays for scripts
