"""The access policy in ``jit_config``: every version kept (kind=policy, version=N)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from backend.adapters import tables
from backend.domain.errors import ConcurrentUpdate, InvalidRequest
from backend.domain.policy import Policy
from jitwire.timefmt import iso_z

if TYPE_CHECKING:
    from datetime import datetime

    from mypy_boto3_dynamodb import DynamoDBClient

    from jitwire.models import Person

POLICY_KIND = "policy"


class DynamoPolicyStore:
    """Reads are cached briefly: the policy changes rarely and every API call needs it."""

    def __init__(
        self, client: DynamoDBClient, ttl_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, int, Policy] | None = None

    def _latest(self) -> tuple[int, Policy]:
        response = self._client.query(
            TableName=tables.CONFIG,
            KeyConditionExpression="kind = :k",
            ExpressionAttributeValues={":k": {"S": POLICY_KIND}},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        if not items:
            raise InvalidRequest("no access policy has been applied yet")
        item = items[0]
        return int(str(item["version"].get("N"))), Policy.model_validate(json.loads(str(item["document"].get("S"))))

    def current(self) -> Policy:
        with self._lock:
            now = self._clock()
            if self._cached is None or now - self._cached[0] > self._ttl:
                version, policy = self._latest()
                self._cached = (now, version, policy)
            return self._cached[2]

    def current_version(self) -> int:
        try:
            return self._latest()[0]
        except InvalidRequest:
            return 0

    def put(self, policy: Policy, actor: Person, at: datetime) -> int:
        version = self.current_version() + 1
        try:
            self._client.put_item(
                TableName=tables.CONFIG,
                Item={
                    "kind": {"S": POLICY_KIND},
                    "version": {"N": str(version)},
                    "document": {"S": policy.model_dump_json()},
                    "applied_by": {"S": actor.email},
                    "applied_at": {"S": iso_z(at)},
                },
                ConditionExpression="attribute_not_exists(version)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ConcurrentUpdate("another policy version was applied at the same time; retry") from exc
            raise
        with self._lock:
            self._cached = None
        return version
