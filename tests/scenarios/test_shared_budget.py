"""The Identity Center budget holds across instances (issue 15 §2), on the local stack's DynamoDB.

Several "instances" (threads, each with its own clients, gateway and budget object, as separate
Lambda containers have) make Identity Center calls at once. Every call is recorded at the wire
together with the slot its instance booked: the slots of all instances are at least 1/rate apart,
so no second holds more than the budget, and no call leaves before its slot.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import boto3

from backend.adapters import tables
from backend.adapters.identity_center import IdentityCenterGateway
from backend.adapters.rate_limit import RateLimiter
from backend.adapters.shared_budget import SharedCallBudget
from backend.wiring import make_clients
from jitwire.names import IDENTITY_CENTER_BUDGET

INSTANCES = 4
CALLS_EACH = 8
RATE = 20.0


class RecordingBudget(SharedCallBudget):
    """Remembers, per thread, the slot it booked, so the wire can pair each call with its slot."""

    local = threading.local()

    def _book(self, now: Decimal, urgent: bool) -> Any:
        booking = super()._book(now, urgent)
        RecordingBudget.local.slot = booking if isinstance(booking, Decimal) else None
        return booking


class Wire:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Decimal, float]] = []  # operation, booked slot, time it left
        self.lock = threading.Lock()

    def record(self, model: Any, **_: Any) -> None:
        with self.lock:
            self.calls.append((model.name, RecordingBudget.local.slot, time.time()))


def _instance(stack, wire: Wire) -> IdentityCenterGateway:
    session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=stack.config.region)
    clients = make_clients(stack.settings, session)
    for client in (clients.sso_admin, clients.identitystore):
        client.meta.events.register("before-call", wire.record)
    budget = RecordingBudget(clients.dynamodb, RATE, RateLimiter(RATE))
    return IdentityCenterGateway(
        clients.sso_admin, clients.identitystore, stack.settings.identity_center_instance_arn,
        stack.settings.identity_store_id, budget,
    )  # fmt: skip


def test_instances_together_never_exceed_the_budget(stack):
    wire = Wire()
    gateways = [_instance(stack, wire) for _ in range(INSTANCES)]

    def busy(gateway: IdentityCenterGateway) -> None:
        for _ in range(CALLS_EACH):
            gateway.find_user_id("alice@example.com")

    with ThreadPoolExecutor(max_workers=INSTANCES) as pool:
        list(pool.map(busy, gateways))

    assert len(wire.calls) == INSTANCES * CALLS_EACH
    slots = sorted(slot for _, slot, _ in wire.calls)
    assert len(set(slots)) == len(slots), "two calls booked the same slot"
    budget = int(RATE)
    for first, later in zip(slots, slots[budget:], strict=False):
        assert later - first >= 1, f"more than {budget} calls between {first} and {later}"
    assert all(left >= float(slot) - 0.002 for _, slot, left in wire.calls), "a call left before its slot"


class FakeTime:
    def __init__(self, start: float) -> None:
        self.now = start
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_when_the_budget_is_short_a_revoke_goes_before_a_grant(stack):
    start = 2_000_000_000.0
    queued_until = start + 3  # three seconds of calls already booked by other instances
    stack.clients.dynamodb.put_item(
        TableName=tables.BUDGET,
        Item={"budget": {"S": IDENTITY_CENTER_BUDGET}, "next_free": {"N": str(queued_until)}},
    )
    grant_time, revoke_time = FakeTime(start), FakeTime(start)
    grant_side = RecordingBudget(
        stack.clients.dynamodb, 10, RateLimiter(10), clock=grant_time.clock, sleep=grant_time.sleep
    )
    revoke_side = RecordingBudget(
        stack.clients.dynamodb, 10, RateLimiter(10), clock=revoke_time.clock, sleep=revoke_time.sleep
    )

    grant_side._book(Decimal(str(start)), urgent=False)
    assert RecordingBudget.local.slot is None  # the queue is beyond the horizon: a grant waits unbooked
    revoke_side.acquire(urgent=True)
    assert RecordingBudget.local.slot == Decimal(str(queued_until))  # a revoke books at once
    grant_side.acquire(urgent=False)
    assert RecordingBudget.local.slot == Decimal(str(queued_until)) + grant_side.step  # after the revoke
    assert grant_time.now >= queued_until
    assert sum(grant_time.slept) >= 3
    assert len(grant_time.slept) <= 3  # it slept until the queue was short, it did not poll


def test_without_its_table_the_budget_falls_back_to_the_process_limiter(stack):
    stack.clients.dynamodb.delete_table(TableName=tables.BUDGET)
    fallback = RateLimiter(10)
    budget = SharedCallBudget(stack.clients.dynamodb, 10, fallback)
    budget.acquire(urgent=True)
    assert len(fallback._starts) == 1


def test_when_bookings_are_slower_than_a_step_the_next_instance_still_finds_the_queue_busy(stack):
    """A busy table (a booking round trip longer than the step): every slot is booked at least a
    round trip ahead, and the instance that restarts a queue that ran dry moments ago leads by a
    second round trip, so the instance that lost that race books behind it in one call instead of
    finding the queue idle again (a herd of retries)."""
    time_ = FakeTime(2_000_000_000.0)
    db = make_clients(stack.settings, boto3.Session("local", "local", region_name=stack.config.region)).dynamodb
    calls: list[str] = []

    def slow_table(**_: Any) -> None:
        calls.append("UpdateItem")
        time_.now += 0.12

    db.meta.events.register("before-call.dynamodb.UpdateItem", slow_table)
    first, second = (
        RecordingBudget(db, 10, RateLimiter(10), name="slow", clock=time_.clock, sleep=time_.sleep) for _ in range(2)
    )
    first.acquire(urgent=True)  # each learns that a booking takes a while, and never goes late
    second.acquire(urgent=True)
    assert first.late_calls == second.late_calls == 0
    assert first._round_trip >= Decimal("0.24")
    time_.now += 0.5  # the queue ran dry a moment ago: the burst goes on
    calls.clear()

    now = Decimal(str(time_.now)).quantize(Decimal("0.001"))
    restarted = first._book(now, urgent=True)  # busy? no (one call); restart the queue (one call)
    assert restarted == now + 2 * first._round_trip  # two round trips ahead
    assert len(calls) == 2
    # The instance that lost the race tries again a round trip later: the queue is still ahead of it.
    behind = second._book(now + second._round_trip, urgent=True)
    assert behind == restarted + second.step
    assert len(calls) == 3, "the second instance needed more than one booking"
    # After a quiet spell a lone call books one round trip ahead, no more.
    quiet = now + 10
    assert first._book(quiet, urgent=True) == quiet + first._round_trip


def test_a_call_woken_after_its_slot_allowance_books_again_instead_of_bunching(stack):
    time_ = FakeTime(2_000_000_000.0)
    oversleeps = iter([0.5, 0.0])  # the host is busy once: the first wake-up comes half a second late

    def busy_host_sleep(seconds: float) -> None:
        time_.sleep(seconds + next(oversleeps, 0.0))

    budget = RecordingBudget(
        stack.clients.dynamodb, 10, RateLimiter(10), name="late", clock=time_.clock, sleep=busy_host_sleep
    )
    budget._round_trip = Decimal("0.1")  # every booking is then a sleep away
    budget.acquire(urgent=True)
    assert time_.now - float(RecordingBudget.local.slot) <= float(budget.step) / 5  # went within its allowance
    assert len(time_.slept) == 2  # slept, woke late, booked again, slept again
    assert budget.late_calls == 0
