"""What Mattermost sends us, parsed at the edge (third-party payloads: unknown keys ignored)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Inbound(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class SlashCommand(_Inbound):
    """The form of a slash-command POST (docs/architecture.md, "Slash commands")."""

    token: str
    team_id: str = ""
    channel_id: str
    channel_name: str = ""
    user_id: str = Field(min_length=1)
    user_name: str = ""
    command: str = ""
    text: str = ""
    trigger_id: str = ""
    root_id: str = ""
    response_url: str = ""


class ActionClick(_Inbound):
    """A button click relayed by the server; ``user_id`` comes from the session.

    docs/architecture.md, "Buttons and clicks".
    """

    user_id: str = Field(min_length=1)
    user_name: str = ""
    channel_id: str = Field(min_length=1)
    team_id: str = ""
    post_id: str = Field(min_length=1)
    trigger_id: str = ""
    type: str = "button"
    context: dict[str, Any] = Field(default_factory=dict)


class DialogSubmission(_Inbound):
    type: str = "dialog_submission"
    callback_id: str = ""
    state: str = ""
    user_id: str = Field(min_length=1)
    channel_id: str = ""
    team_id: str = ""
    submission: dict[str, Any] = Field(default_factory=dict)
    cancelled: bool = False


class WsPost(_Inbound):
    """The ``post`` inside a websocket ``posted`` event (decoded from its JSON string)."""

    id: str
    user_id: str
    channel_id: str
    root_id: str = ""
    message: str = ""
    type: str = ""
    props: dict[str, Any] = Field(default_factory=dict)
    create_at: int = 0


class WsEvent(_Inbound):
    event: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    seq: int | None = None
