"""The page's AWS helpers when the stack is not there: a reason, not a crash."""

from __future__ import annotations

import requests

from sandbox.console import StackConsole, StackEndpoints
from sandbox.mattermost.server import MattermostEmulator
from sandbox.mattermost.spec import OpenApiSpec


def test_the_aws_panel_says_when_the_stack_does_not_answer(page_spec: OpenApiSpec) -> None:
    gone = StackConsole(StackEndpoints(moto_url="http://127.0.0.1:9", region="eu-central-1"))
    with MattermostEmulator(spec=page_spec, extra_routes=gone.routes()) as emulator:
        response = requests.get(f"{emulator.url}/_sandbox/aws", timeout=60)
    assert response.status_code == 503
    assert response.json()["error"].startswith("the local stack did not answer:")
