"""Approvers are told: DM copies of the card kept in sync, the half-timeout reminder, /jit approvals.

Through the emulator, the real bot and the local stack; time moves only by the stack's manual clock.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from backend.domain.models import IdentityBinding
from jitwire.models import Person, RequestStatus
from tests.e2e.conftest import System, wait_until
from tests.e2e.test_approval_flow import buttons, request_card, wait_card

SYSTEM = Person(user_id="system", username="system", email="system@example.com")
ASK = "request prod AdministratorAccess 1h investigating INC-77"


def _bind(system: System, *names: str) -> None:
    """As if each had already acted once through the bot (docs/identity.md)."""
    for name in names:
        system.stack.uow.identities.bind(
            IdentityBinding(
                mattermost_user_id=system.mm.user(name).id,
                mattermost_username=name,
                principal_id=system.stack.provisioned.user_ids[name],
                email=f"{name}@example.com",
                bound_at=system.stack.clock(),
                verified_by="mattermost:verified-email",
            )
        )


def _notify(system: System, mode: str, rule: str = "prod-admin") -> None:
    policy = system.stack.uow.policies.current()
    rules = tuple(r.model_copy(update={"notify_approvers": mode}) if r.name == rule else r for r in policy.rules)
    system.stack.uow.policies.put(policy.model_copy(update={"rules": rules}), SYSTEM, system.stack.clock())


def _copies(system: System, user: str, request_id: str) -> list[dict[str, Any]]:
    return [p for p in system.dms(user) if p["props"].get("jit_approver_copy") == request_id]


def _copy(system: System, user: str, request_id: str) -> dict[str, Any]:
    found = wait_until(
        lambda: [c for c in _copies(system, user, request_id) if c["props"]["jit_version"] > 0], what=f"{user}'s copy"
    )
    assert len(_copies(system, user, request_id)) == 1
    return found[0]


def _status(post: dict[str, Any]) -> str:
    return str(post["props"]["attachments"][0]["fallback"]).rsplit(": ", 1)[-1]


def test_dm_copies_carry_the_buttons_and_one_decision_updates_every_copy(system: System) -> None:
    _notify(system, "both")
    _bind(system, "bob", "carol", "dave")  # dave is bound but approves nothing
    system.start_bot()
    card = request_card(system, ASK)
    request_id = card["props"]["jit_request_id"]
    bobs, carols = _copy(system, "bob", request_id), _copy(system, "carol", request_id)
    assert set(buttons(bobs)) == set(buttons(carols)) == {"Approve", "Deny"}
    assert bobs["props"]["attachments"][0]["fields"] == card["props"]["attachments"][0]["fields"]

    click = system.mm.click(user="bob", post_id=bobs["id"], action_id=buttons(bobs)["Approve"])
    assert "You approved" in click.ephemerals[0]["message"]
    system.stack.wait_for(request_id, RequestStatus.GRANTED)
    assert buttons(wait_card(system, card["id"], "GRANTED")) == {}
    for user in ("bob", "carol"):
        final = wait_until(
            lambda u=user: (c := _copy(system, u, request_id)) and _status(c) == "GRANTED" and c,  # type: ignore[misc]
            what=f"{user}'s copy granted",
        )
        assert buttons(final) == {}
    assert _copies(system, "dave", request_id) == [] and _copies(system, "alice", request_id) == []


def test_reminder_at_half_the_approval_timeout_in_the_thread_and_by_dm_once(system: System) -> None:
    _bind(system, "bob", "carol")
    system.start_bot()
    card = request_card(system, ASK)  # prod-admin: approval_timeout 1h, notify_approvers left at channel
    request_id = card["props"]["jit_request_id"]
    system.stack.advance(timedelta(minutes=29))
    system.stack.run_reconciler()
    assert system.stack.uow.store.get(request_id).reminded_at is None
    system.stack.advance(timedelta(minutes=2))
    system.stack.run_reconciler()
    system.stack.run_reconciler()  # a second run says nothing more
    line = wait_until(
        lambda: [m for m in system.thread(card["id"]) if m.startswith("Reminder: nobody has decided")],
        what="thread reminder",
    )
    assert len(line) == 1 and "expires at" in line[0]
    for user in ("bob", "carol"):
        told = wait_until(lambda u=user: [p for p in system.dms(u) if "Reminder:" in p["message"]], what="DM")  # type: ignore[misc]
        assert len(told) == 1 and request_id in told[0]["message"]
    trail = [e.type for e in system.stack.uow.store.audit_trail(request_id)]
    assert trail.count("request.approval_reminder") == 1
    assert _copies(system, "bob", request_id) == []  # channel mode: no DM copies of the card


def test_no_reminder_once_someone_has_acted(system: System) -> None:
    system.start_bot()
    acted = request_card(system, "request prod PowerUserAccess 1h INC-78")  # two approvals, 30m timeout
    idle = request_card(system, "request prod PowerUserAccess 1h INC-79", user="dave")
    system.mm.click(user="bob", post_id=acted["id"], action_id=buttons(acted)["Approve"])
    system.stack.advance(timedelta(minutes=16))  # past half of both windows, both still open
    system.stack.run_reconciler()

    def reminders(card: dict[str, Any]) -> int:
        trail = system.stack.uow.store.audit_trail(card["props"]["jit_request_id"])
        return [e.type for e in trail].count("request.approval_reminder")

    assert (reminders(acted), reminders(idle)) == (0, 1)


def test_jit_approvals_lists_with_buttons_in_a_dm_copy(system: System) -> None:
    _bind(system, "bob")
    system.start_bot()
    card = request_card(system, ASK)
    request_id = card["props"]["jit_request_id"]
    system.mm.run_command(user="bob", channel="jit-approvals", text="/jit approvals")
    listing = wait_until(lambda: [t for t in system.ephemeral_texts("bob") if request_id in t], what="listing")
    assert "buttons for 1 of them are in your direct messages" in listing[0]
    bobs = _copy(system, "bob", request_id)
    click = system.mm.click(user="bob", post_id=bobs["id"], action_id=buttons(bobs)["Deny"])
    assert "You denied" in click.ephemerals[0]["message"]
    assert buttons(wait_card(system, card["id"], "DENIED")) == {}
    denied = wait_until(lambda: (c := _copy(system, "bob", request_id)) and _status(c) == "DENIED" and c)
    assert buttons(denied) == {}
