"""The people, statuses and card references that travel between the bot and the backend.

The backend's domain uses these types as they are (``backend.domain.models`` imports them): a
request's status or requester means the same on both sides of the signed API.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RequestStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    GRANTED = "GRANTED"
    REVOKED = "REVOKED"
    DENIED = "DENIED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    ERROR = "ERROR"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES

    @property
    def holds_access(self) -> bool:
        """May an assignment legitimately exist for a request in this status?"""
        return self in (RequestStatus.APPROVED, RequestStatus.GRANTED)


FINAL_STATUSES = frozenset(
    {
        RequestStatus.REVOKED,
        RequestStatus.DENIED,
        RequestStatus.CANCELLED,
        RequestStatus.EXPIRED,
        RequestStatus.ERROR,
    }
)


class Person(BaseModel):
    """A Mattermost user as the bot vouches for them (identity travels in the signed body).

    Authority never comes from ``email``: the backend binds ``user_id`` to one Identity Center user
    the first time the user acts (docs/identity.md) and decides from that binding ever after.
    ``vouched_by`` says why the bot trusts the e-mail (e.g. ``sso:saml``); without it no binding is made.
    """

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    user_id: str = Field(min_length=1, max_length=64)
    username: str = Field(min_length=1, max_length=64)
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    vouched_by: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[a-z0-9:_-]+$")

    def same_as(self, other: Person) -> bool:
        """The same Mattermost account; e-mail text proves nothing (anyone may type any address)."""
        return self.user_id == other.user_id


class CardRef(BaseModel):
    """Where the bot posted the approval card, so any replica can edit it later."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    channel_id: str = Field(min_length=1, max_length=64)
    post_id: str = Field(min_length=1, max_length=64)


# Where approvers hear of a request (docs/approvers.md): the channel card always; ``dm``/``both`` add
# a DM copy of the card, with the same buttons, to every approver bound to a Mattermost account.
NotifyApprovers = Literal["channel", "dm", "both"]
