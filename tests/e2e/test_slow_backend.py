"""A backend slower than the bot's timeout: the requester still learns their request (issue 15 §3).

The server finishes the create after the bot gave up waiting. The bot asks again with the same
idempotency key (which returns the existing request) before answering, so the person gets the
request id, and there is exactly one request and one card.
"""

from __future__ import annotations

import time

import pytest
from moto.dynamodb.models import DynamoDBBackend

from bot.access.explain import UNCONFIRMED, UNREACHABLE
from tests.e2e.conftest import System, wait_until

CLIENT_TIMEOUT = 0.3
SLOWER_THAN_THE_TIMEOUT = 1.0  # every transactional write (each create and state change)


@pytest.fixture
def slow_writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    original = DynamoDBBackend.transact_write_items
    received: list[int] = []

    def slow(backend: DynamoDBBackend, *args: object, **kwargs: object) -> object:
        received.append(1)
        time.sleep(SLOWER_THAN_THE_TIMEOUT)
        return original(backend, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", slow)
    return received


def test_a_create_slower_than_the_timeout_answers_with_the_request_id(system: System, slow_writes: list[int]) -> None:
    system.start_bot(backend_timeout_seconds=CLIENT_TIMEOUT, backend_settle_seconds=60)
    result = system.mm.run_command(
        user="alice", channel="jit-approvals", text="/jit request prod AdministratorAccess 1h slow INC-7"
    )
    assert result.error == ""

    alice = system.mm.user("alice").id
    [request] = wait_until(lambda: system.stack.uow.store.list_by_requester(alice, 10), what="the request stored")
    answer = wait_until(
        lambda: [t for t in system.ephemeral_texts("alice") if t != "Submitting your request…"], what="an answer"
    )
    assert request.request_id in answer[0] and "waiting for approval" in answer[0], answer
    assert not any(t in (UNREACHABLE, UNCONFIRMED) for t in system.ephemeral_texts("alice"))
    card = wait_until(system.cards, what="the card")
    assert [c["props"]["jit_request_id"] for c in card] == [request.request_id]
    assert len(system.stack.uow.store.list_by_requester(alice, 10)) == 1
    assert len(slow_writes) >= 1
