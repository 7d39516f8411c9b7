from __future__ import annotations

from datetime import timedelta

import pytest

from bot import posts
from jitwire.chattext import MAX_POST_CHARS
from jitwire.models import RequestStatus
from tests.bot.mention_check import channel_wide_mentions, scanned_texts
from tests.bot.views import ALICE, BOB, NOW, approved_by, event, view

CTX = {"request_id": "rabc"}


def test_card_with_buttons_has_alphanumeric_action_ids_and_records_its_version() -> None:
    actions = [posts.button("approve", "Approve", "success", "http://bot/a", CTX)]
    message, props = posts.card(view(version=7), actions)
    assert props[posts.PROP_VERSION] == 7
    assert props[posts.PROP_REQUEST] == "rabc"
    assert [a["id"] for a in props["attachments"][0]["actions"]] == ["approve"]
    assert "AdministratorAccess on prod" in message


@pytest.mark.parametrize("bad", ["approve_1", "approve-1", "appröve", ""])
def test_button_ids_must_be_alphanumeric(bad: str) -> None:
    with pytest.raises(ValueError, match="alphanumeric"):
        posts.button(bad, "x", "default", "http://bot/a", CTX)


def test_decided_card_has_no_buttons_field() -> None:
    _, props = posts.card(view(status=RequestStatus.DENIED, decided_by=BOB), [])
    assert "actions" not in props["attachments"][0]


def test_tally_lists_approvers() -> None:
    pending = view(approvals_required=2, approvals=approved_by(BOB))
    assert posts.tally(pending) == "1 of 2 approvals: @\u200bbob"
    _, props = posts.card(pending, [])
    assert {f["title"]: f["value"] for f in props["attachments"][0]["fields"]}["Approvals"] == posts.tally(pending)


def test_status_lines() -> None:
    end = NOW + timedelta(hours=1)
    assert posts.status_line(view(status=RequestStatus.GRANTED, end_time=end)) == "Granted until 2026-11-27 15:00 UTC"
    assert posts.status_line(view(status=RequestStatus.DENIED, decided_by=BOB)) == "Denied by @\u200bbob"
    assert posts.status_line(view(status=RequestStatus.ERROR, last_error="@channel boom")).startswith("Error")
    assert channel_wide_mentions(posts.status_line(view(status=RequestStatus.ERROR, last_error="@channel"))) == []


def test_hostile_fields_stay_within_limits_and_never_mention() -> None:
    hostile = view(reason="@channel " * 55, decision_note="<!here> " * 60, status=RequestStatus.DENIED, decided_by=BOB)
    message, props = posts.card(hostile, [])
    post = {"message": message, "props": props}
    for text in scanned_texts(post):
        assert channel_wide_mentions(text) == []
        assert len(text) <= MAX_POST_CHARS
    dm = posts.requester_dm(event("request.denied", hostile, BOB), "")
    assert dm is not None and channel_wide_mentions(dm) == []


def test_requester_dms() -> None:
    granted = view(status=RequestStatus.GRANTED, start_time=NOW, end_time=NOW + timedelta(hours=1))
    text = posts.requester_dm(event("request.granted", granted), "https://portal.example/start")
    assert text is not None
    assert "until **2026-11-27 15:00 UTC**" in text
    assert "https://portal.example/start" in text
    assert posts.requester_dm(event("request.approval_recorded", view(), BOB), "") is None
    for kind in ("request.approved", "request.expiring_soon", "request.revoked", "request.denied", "request.error"):
        assert posts.requester_dm(event(kind, granted, BOB), "")


def test_history_lines() -> None:
    line = posts.history_line(event("request.approval_recorded", view(approvals=approved_by(BOB)), BOB))
    assert line == "@\u200bbob approved (1 of 1 approvals: @\u200bbob)"
    assert posts.history_line(event("request.denied", view(), BOB, detail="@all no")) == (
        "@\u200bbob denied the request: @\u200ball no"
    )
    assert posts.history_line(event("access.drift_detected", view())) is None
    assert posts.history_line(event("access.break_glass", view(), BOB, detail="INC-9")) == (
        "@\u200bbob revoked access with break-glass: INC-9"
    )
    assert posts.history_line(event("request.created", view(), ALICE)) is not None
