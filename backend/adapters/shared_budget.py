"""The Identity Center call budget shared by every process (each Lambda instance) through DynamoDB.

A per-process limiter holds one process to the rate; in AWS every concurrent ``jit-api`` instance
has its own, so fifty instances revoking at once could send fifty calls in a second. Here every
call books a start time ("slot") on one item of ``jit_budget``: slots are ``1/rate`` seconds apart
across all instances, so no one-second window holds more than ``rate`` call starts, whoever makes
them. Booking is one conditional ``UpdateItem`` (DynamoDB numbers are exact decimals, so the
slots never drift):

- the queue is busy (``next_free`` is now or later): take ``next_free`` and move it one step on;
- the queue is idle (``next_free`` is in the past or missing): take *now*, next free is now + step.

Revokes come first when the budget is short: an urgent call books whatever slot is free, while a
normal one (grants, lookups, the reconciler's reads) books only if the queue ahead of it ends
within ``normal_horizon`` seconds, and otherwise waits and asks again, leaving the queue to the
revokes. Slots are in epoch seconds, so instance clocks must agree (Lambda's are NTP-synchronised).

If DynamoDB itself fails, calls fall back to a per-process limiter rather than stop: an Identity
Center call (a break-glass revoke above all) must not depend on the budget table being up.
"""

from __future__ import annotations

import logging
import time
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from backend.adapters import tables
from backend.names import IDENTITY_CENTER_BUDGET

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb import DynamoDBClient

    from backend.adapters.rate_limit import RateLimiter

log = logging.getLogger(__name__)

_MILLI = Decimal("0.001")


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

    def acquire(self, urgent: bool = False) -> None:
        """Wait until this call's booked slot has come."""
        while True:
            now = Decimal(str(self._clock())).quantize(_MILLI)
            try:
                slot = self._book(now, urgent)
            except (ClientError, BotoCoreError):
                log.warning("the shared call budget is unavailable; using this process's limiter", exc_info=True)
                self._fallback.acquire()
                return
            if slot is None:
                if not urgent:  # the queue is long: let the revokes through first
                    self._sleep(float(self._step))
                continue
            wait = float(slot - now)
            if wait > 0:
                self._sleep(wait)
            return

    def _book(self, now: Decimal, urgent: bool) -> Decimal | None:
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
            )
            return Decimal(response["Attributes"]["next_free"]["N"]) - self._step
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        try:
            self._client.update_item(
                TableName=tables.BUDGET,
                Key={"budget": {"S": self._name}},
                UpdateExpression="SET next_free = :next",
                ConditionExpression="attribute_not_exists(next_free) OR next_free < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}, ":next": {"N": str(now + self._step)}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return None  # busy beyond the horizon, or another instance booked in between: ask again
        return now
