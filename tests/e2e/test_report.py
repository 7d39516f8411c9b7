"""``/jit report``: admins get the audit summary and the timeline picture by DM, as a file attachment
uploaded through POST /api/v4/files and posted with file_ids (validated against the OpenAPI spec)."""

from __future__ import annotations

from bot.mattermost.trust import VERIFIED_EMAIL
from jitwire.contract import CreateRequestBody
from jitwire.models import Person, RequestStatus
from tests.e2e.conftest import System, wait_until


def _alice(system: System) -> Person:
    """Alice as the bot would vouch for her: her emulator user id, so DMs to her can be sent."""
    return Person(
        user_id=system.mm.user("alice").id, username="alice", email="alice@example.com", vouched_by=VERIFIED_EMAIL
    )


def _one_grant(system: System) -> str:
    created = system.stack.client().create_request(
        CreateRequestBody(
            actor=_alice(system), account="staging", permission_set="AdministratorAccess", duration="1h", reason="INC-3"
        )
    )
    system.stack.wait_for(created.request_id, RequestStatus.GRANTED)
    return created.request_id


def test_admin_gets_the_report_with_the_timeline_attached_by_dm(system: System) -> None:
    request_id = _one_grant(system)
    system.start_bot()
    system.mm.run_command(user="dave", channel="jit-approvals", text="/jit report 7d")
    told = wait_until(lambda: system.ephemeral_texts("dave")[1:], what="report acknowledgement")
    assert told[0] == "I sent you the report by direct message."
    dm = wait_until(lambda: next((p for p in system.dms("dave") if p["file_ids"]), None), what="report DM")
    assert dm["message"].startswith("**JIT access report**")
    assert request_id in dm["message"] and "active" in dm["message"]
    [file_id] = dm["file_ids"]
    stored = system.mm.mm.store.files[file_id]
    assert stored.info["post_id"] == dm["id"] and stored.info["mime_type"] == "image/png"
    assert stored.content.startswith(b"\x89PNG") and stored.info["size"] > 10_000
    assert stored.info["width"] >= 800 and stored.info["height"] >= 150


def test_report_is_for_admins_only_and_sends_nothing_else(system: System) -> None:
    _one_grant(system)
    system.start_bot()
    system.mm.run_command(user="alice", channel="jit-approvals", text="/jit report")
    refused = wait_until(lambda: system.ephemeral_texts("alice")[1:], what="refusal")
    assert refused[0] == "You are not allowed to do that: only admins can read the audit report."
    assert not any(p["file_ids"] for p in system.dms("alice"))
    assert system.mm.mm.store.files == {}


def test_an_approval_that_expires_undecided_gets_one_line_in_on_call(system: System) -> None:
    from datetime import timedelta

    system.start_bot()
    created = system.stack.client().create_request(
        CreateRequestBody(
            actor=_alice(system), account="prod", permission_set="AdministratorAccess", duration="1h", reason="INC-4"
        )
    )
    system.stack.advance(timedelta(hours=1, minutes=1))
    system.stack.run_reconciler()
    system.stack.wait_for(created.request_id, RequestStatus.EXPIRED)
    line = wait_until(
        lambda: next((p for p in system.mm.posts("oncall") if "Approval expired" in p["message"]), None),
        what="on-call expiry line",
    )
    assert created.request_id in line["message"]
    assert sum("Approval expired" in p["message"] for p in system.mm.posts("oncall")) == 1
