"""The Identity Center call budget shared by every process (each Lambda instance) through DynamoDB.

A per-process limiter holds one process to the rate; in AWS every concurrent ``jit-api`` instance
has its own, so fifty instances revoking at once could send fifty calls in a second. Here every
call takes a ticket from one ``jit_budget`` item and waits its turn in a ring of ``rate`` places
(``budget_ring``): a call starts once the call ``rate`` tickets before it started a second ago
(plus a small margin), then records its own start on the item. So no one-second window holds more
than ``rate`` starts, whoever makes them, and a burst goes out ``rate`` at a time, a second apart.

DynamoDB calls per Identity Center call: taking the ticket (one ``UpdateItem``, an atomic add
that never conflicts, returning the ring) and recording the start (one conditional
``UpdateItem``). A ticket whose predecessor has not recorded its start yet reads its place
(``GetItem``) about when that start is due. Nothing is booked ahead, so a slow table delays calls
but never wastes a slot or turns a burst into a herd of retries. A ticket that misses its deadline
(its instance died, or woke far too late) is skipped by the next one at its place.

Revokes come first when the budget is short: an urgent call always takes a ticket, while a normal
one (grants, lookups, the reconciler's reads) takes one only while less than ``normal_horizon``
seconds of calls are queued, and otherwise sleeps until the queue is short. Times are epoch
seconds, so instance clocks must agree (Lambda's are NTP-synchronised).

If DynamoDB itself fails, calls fall back to a per-process limiter rather than stop: an Identity
Center call (a break-glass revoke above all) must not depend on the budget table being up.
"""

from __future__ import annotations

import logging
import math
import time
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from backend.adapters import tables
from backend.adapters.budget_ring import Go, Look, Lost, Place, Ring, Skip
from jitwire.names import IDENTITY_CENTER_BUDGET

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb import DynamoDBClient

    from backend.adapters.rate_limit import Permit, RateLimiter

log = logging.getLogger(__name__)

_MILLI = Decimal("0.001")
_SEND_MARGIN = Decimal("0.02")  # s from the start being read to the request on the wire
_GRACE = Decimal(5)  # s a ticket may start after it is allowed to (more than any ticket round trip)
_LOOK_EVERY = Decimal("0.25")  # s between reads while a predecessor's start is due


def ring_for(max_calls_per_second: float) -> Ring:
    """``places`` = the calls one window may hold; a window is ``places/rate`` (1 s at a whole rate)."""
    rate = Decimal(str(max_calls_per_second))
    places = max(1, int(rate))
    window = (places / rate + _SEND_MARGIN).quantize(_MILLI, rounding=ROUND_CEILING)
    return Ring(places, window, _GRACE, _SEND_MARGIN, _LOOK_EVERY)


def _is_conflict(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class _StartRecord:
    """The permit of a call that went: records its start on the ring once the call is made."""

    def __init__(self, budget: SharedCallBudget, started: Place, after: int) -> None:
        self._budget = budget
        self._started = started
        self._after = after

    def done(self) -> None:
        try:
            self._budget.record(self._started, self._after)
        except (ClientError, BotoCoreError):  # the next ticket at the place skips this one in time
            log.warning("the shared call budget could not record a start", exc_info=True)


class SharedCallBudget:
    def __init__(
        self,
        client: DynamoDBClient,
        max_calls_per_second: float,
        fallback: RateLimiter,
        *,
        name: str = IDENTITY_CENTER_BUDGET,
        normal_horizon: float = 1.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not math.isfinite(max_calls_per_second) or max_calls_per_second <= 0:
            raise ValueError("max_calls_per_second must be a positive number")
        self._client = client
        self._ring = ring_for(max_calls_per_second)
        self._fallback = fallback
        self._name = name
        # A normal call waits while this many tickets are queued ahead of the oldest not yet started.
        self._normal_queue = max(1, math.ceil(self._ring.places * normal_horizon / float(self._ring.window)))
        self._clock = clock
        self._sleep = sleep
        self._front = 0  # every ticket below this one is known to have started (or been skipped)
        self.fallbacks = 0  # calls that went through the per-process limiter instead
        self.skipped = 0  # predecessors this instance recorded as gone after their deadline
        self.given_up = 0  # tickets of this instance that missed their deadline and were not used

    @property
    def ring(self) -> Ring:
        return self._ring

    @property
    def pace(self) -> float:
        """Calls per second in a long burst (a little under the rate: the send margin)."""
        return self._ring.places / float(self._ring.window)

    def acquire(self, urgent: bool = False) -> Permit:
        """Wait for this call's turn; record its start with the returned permit's ``done``."""
        try:
            while True:
                permit = self._turn(*self._take_ticket(urgent))
                if permit is not None:
                    return permit
        except (ClientError, BotoCoreError):
            log.warning("the shared call budget is unavailable; using this process's limiter", exc_info=True)
            self.fallbacks += 1
            return self._fallback.acquire(urgent)

    def record(self, start: Place, after: int) -> Place | None:
        """Write ``start`` at its place if the place still holds ticket ``after``; else what it holds."""
        place = self._ring.place_of(start.ticket)
        names = {"#k": f"k{place}", "#t": f"t{place}"}
        expected = "attribute_not_exists(#k)" if after < 0 else "#k = :after"
        values = {":k": {"N": str(start.ticket)}, ":t": {"N": str(start.started)}}
        if after >= 0:
            values[":after"] = {"N": str(after)}
        try:
            self._client.update_item(
                TableName=tables.BUDGET,
                Key={"budget": {"S": self._name}},
                UpdateExpression="SET #k = :k, #t = :t",
                ConditionExpression=expected,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _is_conflict(exc):
                raise
            return self._place(exc.response.get("Item", {}), start.ticket)  # type: ignore[arg-type]
        return None

    def _now(self) -> Decimal:
        return Decimal(str(self._clock())).quantize(_MILLI)

    def _take_ticket(self, urgent: bool) -> tuple[int, dict[str, Any], Decimal, Decimal]:
        # A queue whose front has not moved for longer than a ticket may wait is held up by a dead
        # ticket that only a ticket at its place can skip: then a normal call takes one all the same.
        front_seen, front_since = self._front, self._now()
        while True:
            asked = self._now()
            values = {":one": {"N": "1"}}
            condition: dict[str, Any] = {}
            stalled = asked - front_since > self._ring.grace + 2 * self._ring.window
            if not urgent and not stalled:  # only while the queue is short: revokes go first
                values[":cap"] = {"N": str(self._front + self._normal_queue)}
                condition = {"ConditionExpression": "attribute_not_exists(n) OR n < :cap"}
            try:
                response = self._client.update_item(
                    TableName=tables.BUDGET,
                    Key={"budget": {"S": self._name}},
                    UpdateExpression="ADD n :one",
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    **condition,
                )
            except ClientError as exc:
                if urgent or not _is_conflict(exc):
                    raise
                item: dict[str, Any] = exc.response.get("Item", {})  # type: ignore[assignment]
                self._learn_front(item)
                if self._front != front_seen:
                    front_seen, front_since = self._front, self._now()
                queued = int(item.get("n", {}).get("N", "0")) - self._front
                if queued >= self._normal_queue:  # still long: sleep until it is short
                    windows = Decimal(queued - self._normal_queue + 1) / self._ring.places
                    self._sleep(float(max(windows * self._ring.window, self._ring.look_every)))
                continue
            item = response["Attributes"]
            self._learn_front(item)
            return int(item["n"]["N"]) - 1, item, asked, self._now()

    def _turn(self, ticket: int, item: dict[str, Any], asked: Decimal, issued: Decimal) -> Permit | None:
        """Wait until ``ticket`` may start; ``None`` if it lost its turn and must take another."""
        seen = self._place(item, ticket)
        while True:
            now = self._now()
            plan = self._ring.plan(ticket, seen, asked, issued, now)
            if isinstance(plan, Lost):
                self.given_up += 1
                return None
            if isinstance(plan, Skip):
                log.warning("call budget: ticket %d did not start in time; skipping it", plan.missing.ticket)
                self.skipped += 1
                seen = self.record(plan.missing, plan.expected) or plan.missing
            elif isinstance(plan, Look):
                self._sleep(float(plan.at - now))
                seen = self._read(ticket)
            else:
                return self._go(ticket, seen, plan)

    def _go(self, ticket: int, seen: Place, plan: Go) -> Permit | None:
        wait = float(plan.at - self._now())
        if wait > 0:
            self._sleep(wait)
        started = self._now()
        if started > plan.deadline:  # woke far too late: the next ticket may already count this one gone
            late = started - plan.deadline
            log.warning("call budget: ticket %d woke %s s after its deadline; taking another", ticket, late)
            self.given_up += 1
            self.record(Place(ticket, seen.started), seen.ticket)  # unused: the place keeps its last start
            return None
        return _StartRecord(self, Place(ticket, started), seen.ticket)

    def _read(self, ticket: int) -> Place:
        place = self._ring.place_of(ticket)
        response = self._client.get_item(
            TableName=tables.BUDGET,
            Key={"budget": {"S": self._name}},
            ConsistentRead=True,
            ProjectionExpression="#k, #t",
            ExpressionAttributeNames={"#k": f"k{place}", "#t": f"t{place}"},
        )
        return self._place(response.get("Item", {}), ticket)

    def _place(self, item: dict[str, Any], ticket: int) -> Place:
        place = self._ring.place_of(ticket)
        held, started = item.get(f"k{place}"), item.get(f"t{place}")
        if held is None or started is None:
            return self._ring.unused(ticket)
        return Place(int(held["N"]), Decimal(started["N"]))

    def _learn_front(self, item: dict[str, Any]) -> None:
        """The oldest ticket not known to have started: the next one due at some place."""
        ring = self._ring
        due = (self._place(item, place).ticket + ring.places for place in range(ring.places))
        self._front = max(self._front, min(due))
