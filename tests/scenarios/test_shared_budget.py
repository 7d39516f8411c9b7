"""The Identity Center budget holds across instances (issue 15 §2), on the local stack's DynamoDB.

Several "instances" (threads, each with its own clients, gateway and budget object, as separate
Lambda containers have) make Identity Center calls at once; every call is recorded at the wire.
The other tests drive one budget object at a time on a fake clock, against the same table.
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3

from backend.adapters import tables
from backend.adapters.identity_center import IdentityCenterGateway
from backend.adapters.rate_limit import RateLimiter
from backend.adapters.shared_budget import SharedCallBudget
from backend.wiring import make_clients

INSTANCES = 4
CALLS_EACH = 8
RATE = 20.0
START = 2_000_000_000.0


class Wire:
    def __init__(self) -> None:
        self.left: list[float] = []
        self.lock = threading.Lock()

    def record(self, **_: Any) -> None:
        with self.lock:
            self.left.append(time.time())


def _instance(stack, wire: Wire) -> IdentityCenterGateway:
    session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=stack.config.region)
    clients = make_clients(stack.settings, session)
    for client in (clients.sso_admin, clients.identitystore):
        client.meta.events.register("before-call", wire.record)
    budget = SharedCallBudget(clients.dynamodb, RATE, RateLimiter(RATE), name="instances")
    return IdentityCenterGateway(
        clients.sso_admin, clients.identitystore, stack.settings.identity_center_instance_arn,
        stack.settings.identity_store_id, budget,
    )  # fmt: skip


def _most_in_one_second(times: list[float]) -> int:
    ordered, best, first = sorted(times), 0, 0
    for last, moment in enumerate(ordered):
        while ordered[first] <= moment - 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


def test_instances_together_never_exceed_the_budget_and_a_burst_goes_a_second_at_a_time(stack):
    wire = Wire()
    gateways = [_instance(stack, wire) for _ in range(INSTANCES)]

    def busy(gateway: IdentityCenterGateway) -> None:
        for _ in range(CALLS_EACH):
            gateway.find_user_id("alice@example.com")

    with ThreadPoolExecutor(max_workers=INSTANCES) as pool:
        list(pool.map(busy, gateways))

    assert len(wire.left) == INSTANCES * CALLS_EACH
    assert _most_in_one_second(wire.left) <= RATE
    ordered = sorted(wire.left)
    burst = int(RATE)
    assert ordered[burst] - ordered[0] >= 1.0  # the 21st call waited for the window of the first
    item = stack.clients.dynamodb.get_item(TableName=tables.BUDGET, Key={"budget": {"S": "instances"}})["Item"]
    assert item["n"] == {"N": str(INSTANCES * CALLS_EACH)}  # one ticket per call: nothing booked twice


class FakeTime:
    def __init__(self, start: float = START) -> None:
        self.now = start
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class TableCalls:
    """Counts the budget's DynamoDB calls; each may also move the fake clock (a slow table)."""

    def __init__(self, db: Any, fake: FakeTime, takes: float = 0.0) -> None:
        self.operations: list[str] = []
        self.fake, self.takes = fake, takes
        db.meta.events.register("before-call.dynamodb", self.called)

    def called(self, model: Any, **_: Any) -> None:
        self.operations.append(model.name)
        self.fake.now += self.takes


def _own_db(stack) -> Any:
    return make_clients(stack.settings, boto3.Session("local", "local", region_name=stack.config.region)).dynamodb


def _budget(db: Any, fake: FakeTime, name: str, rate: float = 10, sleep: Any = None) -> SharedCallBudget:
    return SharedCallBudget(db, rate, RateLimiter(rate), name=name, clock=fake.clock, sleep=sleep or fake.sleep)


def _item(db: Any, name: str) -> dict[str, Any]:
    return db.get_item(TableName=tables.BUDGET, Key={"budget": {"S": name}}, ConsistentRead=True)["Item"]


def test_when_the_budget_is_short_a_revoke_goes_before_a_grant(stack):
    db = _own_db(stack)
    # Tickets 0-9 started at START; 30 more are queued: three seconds of calls ahead.
    item = {"budget": {"S": "short"}, "n": {"N": "40"}}
    for place in range(10):
        item[f"k{place}"] = {"N": str(place)}
        item[f"t{place}"] = {"N": str(START)}
    db.put_item(TableName=tables.BUDGET, Item=item)
    grant_time, revoke_time = FakeTime(), FakeTime()

    class QueueStillLong(Exception):
        pass

    def grant_sleeps(seconds: float) -> None:
        grant_time.sleep(seconds)
        raise QueueStillLong

    grant_side = _budget(db, grant_time, "short", sleep=grant_sleeps)
    with contextlib.suppress(QueueStillLong):
        grant_side.acquire(urgent=False)
    assert grant_time.slept and grant_time.slept[0] >= 2.0  # it sleeps until the queue is short...
    assert _item(db, "short")["n"] == {"N": "40"}  # ... without taking a ticket

    revoke_side = _budget(db, revoke_time, "short")
    revoke_ticket, *_ = revoke_side._take_ticket(urgent=True)  # a revoke takes its place at once
    assert revoke_ticket == 40
    # The queue drains: tickets 30-39 have started.
    drained = dict(item, n={"N": "41"})
    for place in range(10):
        drained[f"k{place}"] = {"N": str(30 + place)}
        drained[f"t{place}"] = {"N": str(START + 3)}
    db.put_item(TableName=tables.BUDGET, Item=drained)
    grant_side = _budget(db, grant_time, "short")
    grant_side.acquire(urgent=False).done()
    assert _item(db, "short")["n"] == {"N": "42"}  # the grant's ticket (41) comes after the revoke's
    assert _item(db, "short")["k1"] == {"N": "41"}


def test_without_its_table_the_budget_falls_back_to_the_process_limiter(stack):
    stack.clients.dynamodb.delete_table(TableName=tables.BUDGET)
    fallback = RateLimiter(10)
    budget = SharedCallBudget(stack.clients.dynamodb, 10, fallback)
    budget.acquire(urgent=True).done()
    assert len(fallback._starts) == 1
    assert budget.fallbacks == 1


def test_a_slow_table_delays_calls_but_costs_no_extra_bookings(stack):
    """Each DynamoDB call takes 1.5 s, longer than a window: a call still needs one ticket and one
    record, and a burst still goes a window at a time (slots booked ahead would all have died)."""
    fake = FakeTime()
    db = _own_db(stack)
    table = TableCalls(db, fake, takes=1.5)
    budget = _budget(db, fake, "slow", rate=2)
    starts = []
    for _ in range(6):
        permit = budget.acquire(urgent=True)
        starts.append(fake.now)
        permit.done()
    assert table.operations == ["UpdateItem", "UpdateItem"] * 6
    assert budget.given_up == budget.skipped == 0
    for first, third in zip(starts, starts[2:], strict=False):
        assert third - first >= 1.0


def test_a_ticket_that_never_records_its_start_is_skipped_after_its_deadline(stack):
    """An instance took ticket 0 and died before recording its start: the next ticket at the place
    waits out the deadline, records ticket 0 as started at the latest it could have, and goes a
    window after that, never sooner."""
    fake = FakeTime()
    db = _own_db(stack)
    dead = _budget(db, fake, "dead", rate=1)
    dead.acquire(urgent=True)  # never done(): the instance is gone
    alive = _budget(db, fake, "dead", rate=1)
    table = TableCalls(db, fake)
    alive.acquire(urgent=True).done()
    assert alive.skipped == 1
    ring = alive.ring
    latest_dead_start = START + float(ring.grace + ring.send_margin)  # its own deadline, and the wire
    assert fake.now >= latest_dead_start + float(ring.window) - 0.001
    looks = table.operations.count("GetItem")
    # It kept looking until the deadline (a record could still come), and did not spin meanwhile.
    assert float(ring.grace / ring.look_every) - 1 <= looks <= float(ring.grace / ring.look_every) + 2
    assert _item(db, "dead")["k0"] == {"N": "1"}


def test_a_call_woken_after_its_deadline_gives_its_ticket_up_instead_of_bunching(stack):
    fake = FakeTime()
    db = _own_db(stack)
    first = _budget(db, fake, "late", rate=1)
    first.acquire(urgent=True).done()  # ticket 0 started at START: ticket 1 may start a window later
    oversleeps = iter([float(first.ring.grace) + 1])

    def busy_host(seconds: float) -> None:
        fake.sleep(seconds + next(oversleeps, 0.0))

    late = _budget(db, fake, "late", rate=1, sleep=busy_host)
    late.acquire(urgent=True).done()
    assert late.given_up == 1  # woke after its deadline: ticket 1 given up, ticket 2 taken
    assert _item(db, "late")["n"] == {"N": "3"}
    assert _item(db, "late")["k0"] == {"N": "2"}
