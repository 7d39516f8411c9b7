"""The Identity Center call budget shared by every process (each Lambda instance) through DynamoDB.

A per-process limiter holds one process to the rate; in AWS every concurrent ``jit-api`` instance
has its own, so fifty instances revoking at once could send fifty calls in a second. Here every
call books a start time ("slot") on one item of ``jit_budget``: slots are ``1/rate`` seconds apart
across all instances, so no one-second window holds more than ``rate`` call starts, whoever makes
them. Booking is one conditional ``UpdateItem`` (DynamoDB numbers are exact decimals, so the
slots never drift):

- the queue is busy (``next_free`` is now or later): take ``next_free`` and move it one step on;
- the queue is idle (``next_free`` is in the past or missing): take *now*, next free is one step
  after that. If the queue ran dry less than a second ago (a burst), take now plus a lead of two
  booking round trips (at most half a second): without it, when a booking takes longer than a
  step (a busy DynamoDB), every instance that lost the race to restart the queue found it idle
  again by its next try, and a hundred revokes spent ten bookings each.

Revokes come first when the budget is short: an urgent call books whatever slot is free, while a
normal one (grants, lookups, the reconciler's reads) books only if the queue ahead of it ends
within ``normal_horizon`` seconds, and otherwise waits and asks again, leaving the queue to the
revokes (it sleeps until the queue is short instead of polling). A grant or lookup whose thread
wakes well after its slot books again rather than bunch up with the next calls. Slots are in epoch seconds,
so instance clocks must agree (Lambda's are NTP-synchronised).

If DynamoDB itself fails, calls fall back to a per-process limiter rather than stop: an Identity
Center call (a break-glass revoke above all) must not depend on the budget table being up.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from backend.adapters import tables
from jitwire.names import IDENTITY_CENTER_BUDGET

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb import DynamoDBClient

    from backend.adapters.rate_limit import RateLimiter

log = logging.getLogger(__name__)

_MILLI = Decimal("0.001")


_MAX_LATE_REBOOKS = 3
_MAX_LEAD = Decimal("0.5")
_BURST_GAP = Decimal(1)  # the queue emptied less than this ago: calls are still arriving


@dataclass(frozen=True)
class _QueueAhead:
    """No slot booked: the queue of booked calls runs until ``ends``."""

    ends: Decimal


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
        if max_calls_per_second <= 0:
            raise ValueError("max_calls_per_second must be positive")
        self._client = client
        # Rounded up to the millisecond: a step never shorter than 1/rate.
        self._step = (Decimal(1) / Decimal(str(max_calls_per_second))).quantize(_MILLI, rounding=ROUND_CEILING)
        self._fallback = fallback
        self._name = name
        self._horizon = Decimal(str(normal_horizon))
        self._clock = clock
        self._sleep = sleep
        self.fallbacks = 0  # calls that went through the per-process limiter instead
        self._round_trip = Decimal(0)  # how long the last booking took (the idle path's lead)

    def acquire(self, urgent: bool = False) -> None:
        """Wait until this call's booked slot has come."""
        late_rebooks = 0
        while True:
            now = self._now()
            try:
                booking = self._book(now, urgent)
                self._round_trip = max(self._now() - now, Decimal(0))
            except (ClientError, BotoCoreError):
                log.warning("the shared call budget is unavailable; using this process's limiter", exc_info=True)
                self.fallbacks += 1
                self._fallback.acquire()
                return
            if isinstance(booking, _QueueAhead):
                if not urgent:  # the queue is long: wait until it is short, letting revokes book first
                    self._sleep(max(float(booking.ends - self._horizon - now), float(self._step)))
                continue
            wait = float(booking - now)
            if wait > 0:
                self._sleep(wait)
            # Woken well after the slot (a busy host): going now would bunch calls, so a grant or a
            # lookup books again. A revoke goes: taking access away on time comes first.
            if not urgent and self._now() - booking > self._step and late_rebooks < _MAX_LATE_REBOOKS:
                late_rebooks += 1
                continue
            return

    def _now(self) -> Decimal:
        return Decimal(str(self._clock())).quantize(_MILLI)

    def _book(self, now: Decimal, urgent: bool) -> Decimal | _QueueAhead:
        busy_condition = "next_free >= :now" if urgent else "next_free >= :now AND next_free <= :horizon"
        values = {":now": {"N": str(now)}, ":step": {"N": str(self._step)}}
        if not urgent:
            values[":horizon"] = {"N": str(now + self._horizon)}
        try:
            response = self._client.update_item(
                TableName=tables.BUDGET,
                Key={"budget": {"S": self._name}},
                UpdateExpression="SET next_free = next_free + :step",
                ConditionExpression=busy_condition,
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return Decimal(response["Attributes"]["next_free"]["N"]) - self._step
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            current = exc.response.get("Item", {}).get("next_free", {}).get("N")  # type: ignore[attr-defined]
            if current is not None and Decimal(current) >= now:
                return _QueueAhead(Decimal(current))  # busy beyond the horizon
        # A queue that ran dry moments ago means a burst: lead, so the others find it busy. A lone
        # call after a quiet spell (a cold start's first lookup) goes at once.
        in_burst = current is not None and now - Decimal(current) < _BURST_GAP
        slot = now + (min(2 * self._round_trip, _MAX_LEAD) if in_burst else 0)
        try:
            self._client.update_item(
                TableName=tables.BUDGET,
                Key={"budget": {"S": self._name}},
                UpdateExpression="SET next_free = :next",
                ConditionExpression="attribute_not_exists(next_free) OR next_free < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}, ":next": {"N": str(slot + self._step)}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return _QueueAhead(now)  # another instance booked in between: ask again
        return slot
