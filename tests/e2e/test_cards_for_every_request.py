"""Every pending request gets one card, however it was created: through the signed API (the CLI,
jit-admin) or by a bot that died between creating the request and placing its card."""

from __future__ import annotations

import base64
import secrets
import uuid

from bot.mattermost.trust import VERIFIED_EMAIL
from jitwire.contract import CreateRequestBody
from jitwire.models import Person, RequestStatus
from tests.e2e.conftest import System, wait_until
from tests.e2e.test_approval_flow import buttons, fields

BOB = Person(user_id="mmbob", username="bob", email="bob@example.com", vouched_by=VERIFIED_EMAIL)


def alice(system: System) -> Person:
    user = system.mm.user("alice")
    return Person(user_id=user.id, username=user.username, email=user.email, vouched_by=VERIFIED_EMAIL)


def create_through_the_api(system: System, permission_set: str, reason: str) -> str:
    body = CreateRequestBody(
        actor=alice(system),
        account="prod",
        permission_set=permission_set,
        duration="1h",
        reason=reason,
        idempotency_key=uuid.uuid4().hex,
    )
    return system.stack.client().create_request(body).request_id


def rendered_card(system: System, request_id: str) -> dict:
    return wait_until(
        lambda: next(
            (c for c in system.cards() if c["props"]["jit_request_id"] == request_id and c["props"]["jit_version"] > 0),
            None,
        ),
        what="a rendered card",
    )


def test_a_request_created_through_the_api_gets_one_card_even_with_two_replicas_racing(system: System) -> None:
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    first = system.start_bot(action_key=key, replica_index=0, replica_count=2)
    system.start_bot(action_key=key, replica_index=1, replica_count=2, public_port=first.port)
    request_id = create_through_the_api(system, "AdministratorAccess", "from the CLI")
    card = rendered_card(system, request_id)
    # Both replicas got request.created and posted a card; the backend kept the first placed and
    # the loser deleted its post: one card, the recorded one, with working buttons.
    wait_until(lambda: len(system.cards()) == 1, what="the losing card deleted")
    stored = system.stack.client().get_request(alice(system), request_id)
    assert stored.card is not None and stored.card.post_id == card["id"]
    assert set(buttons(card)) == {"Approve", "Deny"}
    click = system.mm.click(user="bob", post_id=card["id"], action_id=buttons(card)["Approve"])
    assert "You approved" in click.ephemerals[0]["message"]
    system.stack.wait_for(request_id, RequestStatus.GRANTED)
    opening = [line for line in system.thread(card["id"]) if "requested" in line]
    assert len(opening) == 1


def test_a_request_left_without_a_card_gets_one_from_its_next_event(system: System) -> None:
    # The bot died after creating the request and before placing its card: nobody heard of
    # request.created. Then the bot is back and the request's next event arrives.
    request_id = create_through_the_api(system, "PowerUserAccess", "bot died before the card")
    assert system.cards() == []
    system.start_bot()
    system.stack.client().decide(BOB, request_id, "approve")  # 1 of 2: still pending
    card = rendered_card(system, request_id)
    assert fields(card)["Approvals"] == "1 of 2 approvals: @\u200bbob"
    assert set(buttons(card)) == {"Approve", "Deny"}
    stored = system.stack.client().get_request(alice(system), request_id)
    assert stored.card is not None and stored.card.post_id == card["id"]
    assert len(system.cards()) == 1
