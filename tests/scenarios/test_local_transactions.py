"""The local stack's DynamoDB transactions stay all-or-nothing with item-level rollback
(backend/local/moto_transactions.py), as DynamoDB's TransactWriteItems is."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from backend.adapters import tables


def _outbox(event_id: str, payload: str) -> dict:
    return {"event_id": {"S": event_id}, "payload": {"S": payload}, "created_at": {"S": "2026-01-01T00:00:00Z"}}


def _payload(stack, event_id: str) -> str | None:
    item = stack.clients.dynamodb.get_item(TableName=tables.OUTBOX, Key={"event_id": {"S": event_id}}).get("Item")
    return None if item is None else item["payload"]["S"]


def _failing_condition(event_id: str) -> dict:
    return {
        "ConditionCheck": {
            "TableName": tables.OUTBOX,
            "Key": {"event_id": {"S": event_id}},
            "ConditionExpression": "attribute_exists(event_id)",
        }
    }


def test_a_cancelled_transaction_leaves_every_item_it_named_as_it_was(stack):
    db = stack.clients.dynamodb
    db.put_item(TableName=tables.OUTBOX, Item=_outbox("kept", "before"))
    db.put_item(TableName=tables.OUTBOX, Item=_outbox("deleted", "before"))
    db.put_item(TableName=tables.OUTBOX, Item=_outbox("bystander", "untouched"))

    with pytest.raises(ClientError) as raised:
        db.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": tables.OUTBOX, "Item": _outbox("kept", "after")}},
                {"Put": {"TableName": tables.OUTBOX, "Item": _outbox("new", "after")}},
                {"Delete": {"TableName": tables.OUTBOX, "Key": {"event_id": {"S": "deleted"}}}},
                {
                    "Update": {
                        "TableName": tables.BUDGET,
                        "Key": {"budget": {"S": "tx-test"}},
                        "UpdateExpression": "SET next_free = :n",
                        "ExpressionAttributeValues": {":n": {"N": "1"}},
                    }
                },
                _failing_condition("missing"),
            ]
        )

    error = raised.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in error["CancellationReasons"]] == [
        "None",
        "None",
        "None",
        "None",
        "ConditionalCheckFailed",
    ]
    assert _payload(stack, "kept") == "before"
    assert _payload(stack, "deleted") == "before"
    assert _payload(stack, "new") is None
    assert _payload(stack, "bystander") == "untouched"
    assert "Item" not in db.get_item(TableName=tables.BUDGET, Key={"budget": {"S": "tx-test"}})


def test_a_transaction_that_passes_writes_every_item(stack):
    db = stack.clients.dynamodb
    db.put_item(TableName=tables.OUTBOX, Item=_outbox("gone", "before"))
    db.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": tables.OUTBOX, "Item": _outbox("one", "1")}},
            {"Put": {"TableName": tables.OUTBOX, "Item": _outbox("two", "2")}},
            {"Delete": {"TableName": tables.OUTBOX, "Key": {"event_id": {"S": "gone"}}}},
        ]
    )
    assert (_payload(stack, "one"), _payload(stack, "two"), _payload(stack, "gone")) == ("1", "2", None)


def test_two_operations_on_one_item_are_refused_and_change_nothing(stack):
    db = stack.clients.dynamodb
    db.put_item(TableName=tables.OUTBOX, Item=_outbox("twice", "before"))
    with pytest.raises(ClientError) as raised:
        db.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": tables.OUTBOX, "Item": _outbox("twice", "first")}},
                {"Put": {"TableName": tables.OUTBOX, "Item": _outbox("twice", "second")}},
            ]
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert _payload(stack, "twice") == "before"
