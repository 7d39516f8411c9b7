"""Executions woken from a Wait take turns on the local stack (``jitlocal.turns``, moto_runtime seam 1)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from moto.ssoadmin.models import SSOAdminBackend

from jitlocal.turns import Turns
from jitwire.models import RequestStatus as S
from tests.identity_center.faults import MotoFaults
from tests.scenarios.helpers import ALICE, BOB, DAVE, ask, assignments_of


def _queued(turns: Turns, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(turns._waiting) < count:
        assert time.monotonic() < deadline, "the thread never queued"
        time.sleep(0.005)


def test_turns_go_in_arrival_order_and_one_thread_holds_one_turn():
    turns = Turns(1)
    turns.take()
    turns.take()  # the same thread again: still one turn
    order: list[str] = []
    threads = []
    for name in ("first", "second", "third"):

        def wait_then_give_back(name: str = name) -> None:
            turns.take()
            order.append(name)
            turns.give_back()

        thread = threading.Thread(target=wait_then_give_back)
        thread.start()
        _queued(turns, len(threads) + 1)  # queued before the next one starts
        threads.append(thread)
    assert order == []
    turns.give_back()
    for thread in threads:
        thread.join(timeout=5)
    assert order == ["first", "second", "third"]


def test_a_turn_left_by_an_ended_thread_is_reclaimed():
    turns = Turns(1)
    gone = threading.Thread(target=turns.take)  # takes a turn and ends without giving it back
    gone.start()
    gone.join()
    took = threading.Event()
    waiter = threading.Thread(target=lambda: (turns.take(), took.set()))
    waiter.start()
    assert took.wait(timeout=5)
    waiter.join()


def test_limit_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        Turns(0)


def test_expiries_waking_together_are_all_revoked_one_turn_at_a_time_even_when_a_task_fails(stack, monkeypatch):
    monkeypatch.setattr(stack.lambdas, "_turns", Turns(1))
    faults = MotoFaults(monkeypatch)
    created = [
        ask(stack, who=ALICE, account="staging", duration="1h"),
        ask(stack, who=DAVE, account="staging", duration="1h"),
        ask(stack, who=ALICE, account="prod", permission_set="ReadOnlyAccess", duration="1h"),
    ]
    stack.client().decide(BOB, created[2].request_id, "approve")
    granted = [stack.wait_for(request.request_id, S.GRANTED) for request in created]
    assert len({request.end_time for request in granted}) == 1  # the clock stands still: one end time
    failed_once = faults.fail(SSOAdminBackend, "delete_account_assignment", "AccessDeniedException", times=1)
    stack.advance(timedelta(hours=1, seconds=1))
    for request in granted:
        stack.wait_for(request.request_id, S.REVOKED)
        assert assignments_of(stack, request) == 0
    assert failed_once.calls == 4  # the failed attempt gave its turn back; its retry and the others went
