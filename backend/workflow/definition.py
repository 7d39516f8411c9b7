"""The state machine definition shipped in ``access.asl.json`` (one file for AWS and local)."""

from __future__ import annotations

import json
from importlib import resources


def load_definition(jit_api_function_arn: str) -> str:
    """The ASL with the jit-api function ARN substituted, as CreateStateMachine expects it."""
    text = resources.files("backend.workflow").joinpath("access.asl.json").read_text(encoding="utf-8")
    definition = text.replace("${JitApiFunctionArn}", jit_api_function_arn)
    json.loads(definition)  # fail here, not in Step Functions, if the file is broken
    return definition
