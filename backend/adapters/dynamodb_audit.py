"""Reading the append-only audit table for the auditors' report (a scan: the report runs rarely)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from backend.adapters import tables
from backend.domain.ports import AuditRecord
from jitwire.contract import LifecycleEvent
from jitwire.timefmt import iso_z, parse_iso_z

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def read_audit(client: DynamoDBClient, until: datetime) -> list[AuditRecord]:
    """Every audit event up to ``until`` (a scan: the report runs rarely, from an operator's shell)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    records = []
    for page in client.get_paginator("scan").paginate(
        TableName=tables.AUDIT,
        FilterExpression="#at < :until",
        ExpressionAttributeNames={"#at": "at"},
        ExpressionAttributeValues={":until": {"S": iso_z(until)}},
    ):
        for raw in page.get("Items", []):
            item: dict[str, Any] = {k: deserializer.deserialize(v) for k, v in raw.items()}
            event = LifecycleEvent.model_validate_json(item["event"]) if item.get("event") else None
            actor = item.get("actor") or {}
            records.append(
                AuditRecord(
                    request_id=str(item["request_id"]),
                    type=str(item["type"]),
                    at=parse_iso_z(str(item["at"])),
                    actor=actor.get("username"),
                    event=event,
                )
            )
    return records
