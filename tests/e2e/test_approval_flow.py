"""alice asks, approvers click: the whole system through emulator, bot and the local stack."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import requests

from jitwire.models import RequestStatus
from tests.e2e.conftest import System, wait_until


def request_card(system: System, text: str, user: str = "alice") -> dict[str, Any]:
    before = {c["id"] for c in system.cards()}
    result = system.mm.run_command(user=user, channel="jit-approvals", text="/jit " + text)
    assert result.error == ""
    assert result.ephemerals[0]["message"] == "Submitting your request…"
    return wait_until(
        lambda: next((c for c in system.cards() if c["id"] not in before and c["props"]["jit_version"] > 0), None),
        what="a new rendered card",
    )


def buttons(post: dict[str, Any]) -> dict[str, str]:
    return {a["name"]: a["id"] for att in post["props"].get("attachments", []) for a in att.get("actions") or []}


def fields(post: dict[str, Any]) -> dict[str, str]:
    return {f["title"]: f["value"] for f in post["props"]["attachments"][0]["fields"]}


def current(system: System, post_id: str) -> dict[str, Any]:
    return next(p for p in system.mm.posts("jit-approvals") if p["id"] == post_id)


def wait_card(system: System, post_id: str, status: str) -> dict[str, Any]:
    return wait_until(
        lambda: (p := current(system, post_id))["props"]["attachments"][0]["fallback"].endswith(status) and p,
        what=f"card {status}",
    )


def test_alice_requests_bob_approves_grant_dm_and_revoke_at_end(system: System) -> None:
    system.start_bot()
    card = request_card(system, "request prod AdministratorAccess 1h investigating INC-123")
    request_id = card["props"]["jit_request_id"]
    assert set(buttons(card)) == {"Approve", "Deny"}
    assert all(i.isalnum() for i in buttons(card).values())
    ack = wait_until(lambda: [t for t in system.ephemeral_texts("alice") if request_id in t], what="submitted")
    assert "waiting for approval" in ack[0]

    click = system.mm.click(user="bob", post_id=card["id"], action_id=buttons(card)["Approve"])
    assert click.status == 200
    assert "You approved" in click.ephemerals[0]["message"]

    system.stack.wait_for(request_id, RequestStatus.GRANTED)
    granted = wait_card(system, card["id"], "GRANTED")
    assert fields(granted)["Status"].startswith("Granted until")
    assert buttons(granted) == {}
    assert fields(granted)["Decided by"] == "@\u200bbob"
    dm = wait_until(lambda: [p["message"] for p in system.dms("alice") if "You now have" in p["message"]], what="DM")
    assert "https://example.awsapps.com/start" in dm[0]

    system.stack.advance(timedelta(hours=1, minutes=5))
    system.stack.wait_for(request_id, RequestStatus.REVOKED)
    revoked = wait_card(system, card["id"], "REVOKED")
    assert fields(revoked)["Status"].startswith("Revoked")
    wait_until(lambda: any("has been revoked" in p["message"] for p in system.dms("alice")), what="revoked DM")
    history = wait_until(lambda: (t := system.thread(card["id"])) and any("revoked" in x for x in t) and t)
    assert history[0] == "@\u200balice requested AdministratorAccess on prod for 1h"
    assert any("approved" in line for line in history)
    assert any("Access granted until" in line for line in history)


def test_deny_updates_card_and_tells_the_requester(system: System) -> None:
    system.start_bot()
    card = request_card(system, "request prod AdministratorAccess 2h deploy hotfix")
    click = system.mm.click(user="carol", post_id=card["id"], action_id=buttons(card)["Deny"])
    assert "You denied" in click.ephemerals[0]["message"]
    denied = wait_card(system, card["id"], "DENIED")
    assert fields(denied)["Status"] == "Denied by @\u200bcarol"
    assert buttons(denied) == {}
    wait_until(lambda: any("was denied" in p["message"] for p in system.dms("alice")), what="denied DM")


def test_cancel_by_the_requester(system: System) -> None:
    system.start_bot()
    card = request_card(system, "request prod AdministratorAccess 2h deploy hotfix")
    request_id = card["props"]["jit_request_id"]
    system.mm.run_command(user="alice", channel="jit-approvals", text=f"/jit cancel {request_id}")
    cancelled = wait_card(system, card["id"], "CANCELLED")
    assert buttons(cancelled) == {}
    assert system.stack.uow.store.get(request_id).status is RequestStatus.CANCELLED
    wait_until(lambda: any("is cancelled" in t for t in system.ephemeral_texts("alice")), what="cancel reply")


def test_two_approvals_show_a_live_tally(system: System) -> None:
    system.start_bot()
    card = request_card(system, "request prod PowerUserAccess 1h database migration")
    request_id = card["props"]["jit_request_id"]
    assert fields(card)["Approvals"] == "0 of 2 approvals"
    system.mm.click(user="bob", post_id=card["id"], action_id=buttons(card)["Approve"])
    one = wait_until(lambda: (p := current(system, card["id"])) and fields(p)["Approvals"].startswith("1 of 2") and p)
    assert fields(one)["Approvals"] == "1 of 2 approvals: @\u200bbob"
    assert set(buttons(one)) == {"Approve", "Deny"}
    system.mm.click(user="carol", post_id=card["id"], action_id=buttons(one)["Approve"])
    system.stack.wait_for(request_id, RequestStatus.GRANTED)
    done = wait_card(system, card["id"], "GRANTED")
    assert fields(done)["Approvals"] == "2 of 2 approvals: @\u200bbob, @\u200bcarol"


def test_self_approval_is_refused(system: System) -> None:
    system.start_bot()
    card = request_card(system, "request prod AdministratorAccess 1h my own change")
    click = system.mm.click(user="alice", post_id=card["id"], action_id=buttons(card)["Approve"])
    assert "cannot approve" in click.ephemerals[0]["message"]
    assert system.stack.uow.store.get(card["props"]["jit_request_id"]).status is RequestStatus.PENDING


def test_double_click_counts_once(system: System) -> None:
    system.start_bot()
    card = request_card(system, "request prod PowerUserAccess 1h database migration")
    request_id = card["props"]["jit_request_id"]
    approve = buttons(card)["Approve"]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: system.mm.click(user="bob", post_id=card["id"], action_id=approve), range(2)))
    third = system.mm.click(user="bob", post_id=card["id"], action_id=approve)
    assert all(r.status == 200 for r in [*results, third])
    stored = system.stack.uow.store.get(request_id)
    assert stored.status is RequestStatus.PENDING
    assert [a.approver.username for a in stored.approvals] == ["bob"]
    assert "You approved" not in third.ephemerals[0]["message"]


def test_expiring_soon_dm_offers_im_done(system: System) -> None:
    system.start_bot()
    card = request_card(system, "request prod AdministratorAccess 1h quick look")
    request_id = card["props"]["jit_request_id"]
    system.mm.click(user="bob", post_id=card["id"], action_id=buttons(card)["Approve"])
    system.stack.wait_for(request_id, RequestStatus.GRANTED)
    system.stack.advance(timedelta(minutes=51))
    warning = wait_until(
        lambda: next((p for p in system.dms("alice") if "ends at" in p["message"] and buttons(p)), None),
        what="expiring-soon DM with buttons",
    )
    assert set(buttons(warning)) == {"Extend", "I'm done"}
    click = system.mm.click(user="alice", post_id=warning["id"], action_id=buttons(warning)["I'm done"])
    assert "Ending your access" in click.ephemerals[0]["message"]
    assert click.updated is not None and buttons(click.updated) == {}
    system.stack.wait_for(request_id, RequestStatus.REVOKED)
    wait_card(system, card["id"], "REVOKED")


def test_admin_commands_and_refusals_in_plain_words(system: System) -> None:
    system.start_bot()
    system.mm.run_command(user="alice", channel="jit-approvals", text="/jit policy")
    refused = wait_until(lambda: system.ephemeral_texts("alice")[1:], what="policy refusal")
    assert refused[0] == "You are not allowed to do that: only admins can read the policy."
    system.mm.run_command(user="dave", channel="jit-approvals", text="/jit policy")
    shown = wait_until(lambda: system.ephemeral_texts("dave")[1:], what="policy")
    assert shown[0].startswith("**The access policy in force**\n```json\n")
    assert "prod-poweruser-two-person" in shown[0]

    card = request_card(system, "request prod AdministratorAccess 2h incident work")
    request_id = card["props"]["jit_request_id"]
    system.mm.click(user="bob", post_id=card["id"], action_id=buttons(card)["Approve"])
    system.stack.wait_for(request_id, RequestStatus.GRANTED)
    system.mm.run_command(user="alice", channel="jit-approvals", text=f"/jit extend {request_id} 1h")
    wait_until(lambda: any("now lasts until" in t for t in system.ephemeral_texts("alice")), what="extend reply")
    system.mm.run_command(user="dave", channel="jit-approvals", text=f"/jit break-glass {request_id} laptop stolen")
    wait_until(lambda: any("Break-glass revoke" in t for t in system.ephemeral_texts("dave")), what="break-glass")
    system.stack.wait_for(request_id, RequestStatus.REVOKED)
    wait_card(system, card["id"], "REVOKED")
    history = wait_until(lambda: (t := system.thread(card["id"])) and any("laptop stolen" in x for x in t) and t)
    assert any("extended access until" in line for line in history)
    system.mm.run_command(user="alice", channel="jit-approvals", text="/jit status rnosuchrequest")
    wait_until(lambda: any(t.startswith("There is no such request") for t in system.ephemeral_texts("alice")))


def pin_as_admin(system: System, post_id: str) -> None:
    """An admin pins the card through the REST API, as a person would in the web app."""
    reply = requests.post(
        f"{system.mm.url}/api/v4/posts/{post_id}/pin",
        headers={"Authorization": f"Bearer {system.mm.token('admin')}"},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text


def test_a_pinned_card_stays_pinned_through_approve_grant_and_revoke(system: System) -> None:
    system.start_bot()
    card = request_card(system, "request prod AdministratorAccess 1h pinned for the incident")
    request_id = card["props"]["jit_request_id"]
    pin_as_admin(system, card["id"])
    assert current(system, card["id"])["is_pinned"] is True
    system.mm.click(user="bob", post_id=card["id"], action_id=buttons(card)["Approve"])
    system.stack.wait_for(request_id, RequestStatus.GRANTED)
    granted = wait_card(system, card["id"], "GRANTED")
    assert granted["is_pinned"] is True
    assert buttons(granted) == {}  # the edit still replaces props whole: the buttons are gone
    system.stack.advance(timedelta(hours=1, minutes=5))
    system.stack.wait_for(request_id, RequestStatus.REVOKED)
    revoked = wait_card(system, card["id"], "REVOKED")
    assert revoked["is_pinned"] is True
    assert revoked["edit_at"] > 0


def test_expiring_soon_buttons_are_removed_once_the_access_is_revoked(system: System) -> None:
    system.start_bot()
    card = request_card(system, "request prod AdministratorAccess 1h let it run out")
    request_id = card["props"]["jit_request_id"]
    system.mm.click(user="bob", post_id=card["id"], action_id=buttons(card)["Approve"])
    system.stack.wait_for(request_id, RequestStatus.GRANTED)
    system.stack.advance(timedelta(minutes=51))
    warning = wait_until(
        lambda: next((p for p in system.dms("alice") if "ends at" in p["message"] and buttons(p)), None),
        what="expiring-soon DM with buttons",
    )
    system.stack.advance(timedelta(minutes=15))
    system.stack.wait_for(request_id, RequestStatus.REVOKED)
    wait_until(lambda: any("has been revoked" in p["message"] for p in system.dms("alice")), what="revoked DM")
    after = wait_until(
        lambda: next((p for p in system.dms("alice") if p["id"] == warning["id"] and not buttons(p)), None),
        what="the expiring-soon DM without buttons",
    )
    assert after["message"] == warning["message"]
    assert after["props"]["jit_request_id"] == request_id
