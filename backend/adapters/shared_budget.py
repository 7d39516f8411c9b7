"""The Identity Center call budget shared by every process (each Lambda instance) through DynamoDB.

A per-process limiter holds one process to the rate; in AWS every concurrent ``jit-api`` instance
has its own, so fifty instances revoking at once could send fifty calls in a second. Here every
call books a start time ("slot") on one item of ``jit_budget``, across all instances, and goes
only if it is still within a fifth of a step of its slot when it wakes; later than that (a busy
host), it books again rather than bunch up with the calls after it. Slots are one step apart, a
step a little longer than ``1/rate``: long enough that even a call that went at the end of its
allowance, and the ``rate``-th call after it going on time, are a second apart. So no one-second
window holds more than ``rate`` call starts, whoever makes them (the pace is 4 % under a rate of
10). Booking is one conditional ``UpdateItem`` (DynamoDB numbers are exact decimals, so the
slots never drift):

- the queue is busy (``next_free`` is at least a booking round trip ahead): take ``next_free`` and
  move it one step on;
- the queue is idle (``next_free`` is sooner, or missing): take *now plus a round trip*, next free
  is one step after that. If the queue ran dry less than a second ago (a burst), lead by a second
  round trip: without it, when a booking takes longer than a step (a busy DynamoDB), every
  instance that lost the race to restart the queue found it idle again by its next try, and a
  hundred revokes spent ten bookings each.

Revokes come first when the budget is short: an urgent call books whatever slot is free, while a
normal one (grants, lookups, the reconciler's reads) books only if the queue ahead of it ends
within ``normal_horizon`` seconds, and otherwise waits and asks again, leaving the queue to the
revokes (it sleeps until the queue is short instead of polling). Slots are in epoch seconds, so
instance clocks must agree (Lambda's are NTP-synchronised).

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


_MAX_LATE_REBOOKS = 5  # then the call goes anyway (counted): a call is never starved
_LATE_SHARE = Decimal("0.2")  # of a step: how late after its slot a call may still go
_SEND_MARGIN = Decimal("0.01")  # s between the slot check and the request leaving the process
_MAX_LEAD = Decimal("0.5")
_FIRST_ROUND_TRIP = Decimal("0.05")  # s, until a booking has been timed
_BURST_GAP = Decimal(1)  # the queue emptied less than this ago: calls are still arriving


def pace_step(max_calls_per_second: float) -> Decimal:
    """Seconds between slots: ``n`` steps (``n`` = the calls one second may hold) less one call's
    late allowance, less the time to send, still span a second; never shorter than ``1/rate``."""
    rate = Decimal(str(max_calls_per_second))
    per_window = max(1, int(rate))
    step = max(1 / rate, (1 + _SEND_MARGIN) / (per_window - _LATE_SHARE))
    return step.quantize(_MILLI, rounding=ROUND_CEILING)


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
        self._step = pace_step(max_calls_per_second)
        self._late_limit = (self._step * _LATE_SHARE).quantize(_MILLI)
        self._fallback = fallback
        self._name = name
        self._horizon = Decimal(str(normal_horizon))
        self._clock = clock
        self._sleep = sleep
        self.fallbacks = 0  # calls that went through the per-process limiter instead
        self.late_calls = 0  # calls that went late after booking again _MAX_LATE_REBOOKS times
        # How long a booking takes (fast up, slow down): slots are booked at least that far ahead,
        # so a booking never comes back with a slot already past its allowance.
        self._round_trip = _FIRST_ROUND_TRIP

    def acquire(self, urgent: bool = False) -> None:
        """Wait until this call's booked slot has come."""
        late_rebooks = 0
        while True:
            now = self._now()
            try:
                booking = self._book(now, urgent)
                self._learn_round_trip(self._now() - now)
            except (ClientError, BotoCoreError):
                log.warning("the shared call budget is unavailable; using this process's limiter", exc_info=True)
                self.fallbacks += 1
                self._fallback.acquire()
                return
            if isinstance(booking, _QueueAhead):
                if not urgent:  # the queue is long: wait until it is short, letting revokes book first
                    self._sleep(max(float(booking.ends - self._horizon - now), float(self._step)))
                continue
            wait = float(booking - self._now())  # from now: the booking itself took time
            if wait > 0:
                self._sleep(wait)
            # Woken after the slot's allowance (a busy host): going now would bunch calls, so book again.
            if self._now() - booking > self._late_limit:
                if late_rebooks < _MAX_LATE_REBOOKS:
                    late_rebooks += 1
                    continue
                self.late_calls += 1
                log.warning(
                    "call budget: went %s s after its slot, having booked again %d times",
                    self._now() - booking,
                    late_rebooks,
                )
            return

    @property
    def step(self) -> Decimal:
        return self._step

    def _learn_round_trip(self, took: Decimal) -> None:
        took = max(took, Decimal(0))
        self._round_trip = took if took > self._round_trip else ((self._round_trip + took) / 2).quantize(_MILLI)

    def _now(self) -> Decimal:
        return Decimal(str(self._clock())).quantize(_MILLI)

    def _book(self, now: Decimal, urgent: bool) -> Decimal | _QueueAhead:
        lead = min(self._round_trip, _MAX_LEAD)
        ahead = now + lead  # when this booking's answer is expected back: no slot before that
        busy_condition = "next_free >= :ahead" if urgent else "next_free >= :ahead AND next_free <= :horizon"
        values = {":ahead": {"N": str(ahead)}, ":step": {"N": str(self._step)}}
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
            if current is not None and Decimal(current) >= ahead:
                return _QueueAhead(Decimal(current))  # busy beyond the horizon
        # A queue that ran dry moments ago means a burst: a second round trip of lead, so the others,
        # whose tries come back a round trip later, find it busy instead of idle again.
        in_burst = current is not None and ahead - Decimal(current) < _BURST_GAP
        slot = ahead + (lead if in_burst else 0)
        try:
            self._client.update_item(
                TableName=tables.BUDGET,
                Key={"budget": {"S": self._name}},
                UpdateExpression="SET next_free = :next",
                ConditionExpression="attribute_not_exists(next_free) OR next_free < :ahead",
                ExpressionAttributeValues={":ahead": {"N": str(ahead)}, ":next": {"N": str(slot + self._step)}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return _QueueAhead(ahead)  # another instance booked in between: ask again
        return slot
