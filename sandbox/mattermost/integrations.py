"""Replies integrations send back to Mattermost, parsed at the edge (third-party: extra ignored).

Shapes come from the server model (docs/architecture.md, "The Mattermost contract"), not from the
spec's PascalCase schemas.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_REPLY_BYTES = 1024 * 1024


class _Reply(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class CommandResponse(_Reply):
    response_type: str = ""
    text: str = ""
    attachments: list[dict[str, Any]] = Field(default_factory=list)
    goto_location: str = ""
    skip_slack_parsing: bool = False
    props: dict[str, Any] = Field(default_factory=dict)
    type: str = ""
    channel_id: str = ""
    extra_responses: list[CommandResponse] = Field(default_factory=list)


class ActionResponse(_Reply):
    update: dict[str, Any] | None = None
    ephemeral_text: str = ""
    skip_slack_parsing: bool = False


class DialogSubmitResponse(_Reply):
    type: str = ""
    errors: dict[str, str] = Field(default_factory=dict)
    error: str = ""
