"""What the card thread, the requester and on-call are told about ending live sessions."""

from __future__ import annotations

from bot.access import posts
from tests.bot.views import NOW, event, view


def test_revoked_line_and_dm_say_live_sessions_ended() -> None:
    ended = view(status="REVOKED", sessions_ended_at=NOW)
    assert (
        posts.history_line(event("request.revoked", ended))
        == "Access revoked; live AWS sessions ended at 2026-11-27 14:00 UTC"
    )
    assert "live AWS sessions have been ended" in (posts.requester_dm(event("request.revoked", ended), "") or "")
    assert posts.history_line(event("request.revoked", view(status="REVOKED"))) == "Access revoked"


def test_revoke_failure_line_says_why_so_the_card_shows_sessions_were_not_ended() -> None:
    failed = event(
        "request.revoke_failed",
        view(status="GRANTED"),
        detail="SessionsNotEnded: Identity Center could not provision AdministratorAccess to account 111111111111",
    )
    line = posts.history_line(failed) or ""
    assert line.startswith("Revoking failed: SessionsNotEnded: Identity Center could not provision")
    assert line.endswith("the reconciler will retry")


def test_wide_fallback_goes_to_on_call_with_its_own_title() -> None:
    wide = event("access.sessions_ended_wide", None, detail="every session of AdministratorAccess in prod")
    assert posts.system_event_line(wide).startswith(":warning: **Live sessions ended for everyone**")


def test_expired_approval_gets_one_on_call_line_naming_the_request() -> None:
    line = posts.system_event_line(event("request.expired", view(status="EXPIRED")))
    assert line == (
        ":hourglass: **Approval expired**: request `rabc` by @\u200balice for AdministratorAccess on prod "
        "had no decision within the approval timeout; the requester was told."
    )
