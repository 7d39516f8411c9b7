"""`make run` (python -m sandbox) names the chat page before anything else."""

from __future__ import annotations

import re

from sandbox.__main__ import describe
from sandbox.mattermost import MattermostEmulator


def test_the_chat_page_address_comes_first(mm: MattermostEmulator) -> None:
    banner = describe("http://127.0.0.1:8787", "http://127.0.0.1:5055", mm, 8090).splitlines()
    assert banner[0] == f"Open the chat page: {mm.url}/"
    # The CLI stays for scripts, behind the interpreter running now: .venv/bin/pytest runs as python3.
    assert any(re.search(r"python[\d.]* -m sandbox\.mattermost\.cli --url ", line) for line in banner)
