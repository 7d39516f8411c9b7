"""A short lease in ``jit_config`` (kind ``lease#<name>``): one writer at a time for a resource
whose API offers no conditional write (a permission set's inline policy).

The lease expires on its own (wall-clock seconds) so a crashed holder blocks nobody for long.
Waiting longer than ``wait_seconds`` raises :class:`ConcurrentUpdate`, which the workflow retries.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from backend.adapters import tables
from backend.domain.errors import ConcurrentUpdate

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

log = logging.getLogger(__name__)


class DynamoLease:
    def __init__(
        self,
        client: DynamoDBClient,
        *,
        ttl_seconds: float = 180.0,
        wait_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._wait = wait_seconds
        self._clock = clock
        self._sleep = sleep

    @contextmanager
    def hold(self, name: str, *, best_effort: bool = False) -> Iterator[None]:
        """``best_effort``: if DynamoDB itself fails, go on unlocked (break-glass must not need it)."""
        key: dict[str, Any] = {"kind": {"S": f"lease#{name}"}, "version": {"N": "0"}}
        owner = uuid.uuid4().hex
        deadline = self._clock() + self._wait
        try:
            while not self._try_take(key, owner):
                if self._clock() >= deadline:
                    raise ConcurrentUpdate(f"another writer holds {name}; try again")
                self._sleep(0.2)
        except (ClientError, BotoCoreError):
            if not best_effort:
                raise
            log.warning("lease %s unavailable (DynamoDB failing); going on without it", name)
            yield
            return
        try:
            yield
        finally:
            try:
                self._client.delete_item(
                    TableName=tables.CONFIG,
                    Key=key,
                    ConditionExpression="#o = :o",
                    ExpressionAttributeNames={"#o": "owner"},
                    ExpressionAttributeValues={":o": {"S": owner}},
                )
            except ClientError as exc:  # expired and taken over meanwhile: not ours to delete
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise

    def _try_take(self, key: dict[str, Any], owner: str) -> bool:
        now = self._clock()
        try:
            self._client.put_item(
                TableName=tables.CONFIG,
                Item={**key, "owner": {"S": owner}, "expires": {"N": f"{now + self._ttl:.3f}"}},
                ConditionExpression="attribute_not_exists(kind) OR expires < :now",
                ExpressionAttributeValues={":now": {"N": f"{now:.3f}"}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
