"""The overlapping-grant ledger in ``jit_assignments``: one item per assignment, a set of holders.

``ADD``/``DELETE`` on a string set are atomic, so concurrent grants and revokes never lose a holder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from backend.adapters import tables
from backend.domain.assignment import AssignmentTarget

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef


def _holders(attrs: dict[str, AttributeValueTypeDef] | None) -> frozenset[str]:
    if not attrs or "holders" not in attrs:
        return frozenset()
    return frozenset(attrs["holders"].get("SS", []))


class DynamoHolderLedger:
    def __init__(self, client: DynamoDBClient) -> None:
        self._client = client

    def holders(self, target: AssignmentTarget) -> frozenset[str]:
        response = self._client.get_item(
            TableName=tables.ASSIGNMENTS, Key={"assignment_key": {"S": target.ledger_key}}, ConsistentRead=True
        )
        return _holders(response.get("Item"))

    def add(self, target: AssignmentTarget, request_id: str) -> frozenset[str]:
        response = self._client.update_item(
            TableName=tables.ASSIGNMENTS,
            Key={"assignment_key": {"S": target.ledger_key}},
            UpdateExpression="ADD holders :h SET principal_id = :p, account_id = :a, permission_set_arn = :ps",
            ExpressionAttributeValues={
                ":h": {"SS": [request_id]},
                ":p": {"S": target.principal_id},
                ":a": {"S": target.account_id},
                ":ps": {"S": target.permission_set_arn},
            },
            ReturnValues="ALL_NEW",
        )
        return _holders(response.get("Attributes"))

    def remove(self, target: AssignmentTarget, request_id: str) -> frozenset[str]:
        try:
            response = self._client.update_item(
                TableName=tables.ASSIGNMENTS,
                Key={"assignment_key": {"S": target.ledger_key}},
                UpdateExpression="DELETE holders :h",
                ConditionExpression="attribute_exists(assignment_key)",
                ExpressionAttributeValues={":h": {"SS": [request_id]}},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return frozenset()  # never held: nothing to release
            raise
        return _holders(response.get("Attributes"))

    def all(self) -> dict[AssignmentTarget, frozenset[str]]:
        ledger: dict[AssignmentTarget, frozenset[str]] = {}
        for page in self._client.get_paginator("scan").paginate(TableName=tables.ASSIGNMENTS, ConsistentRead=True):
            for item in page.get("Items", []):
                target = AssignmentTarget(
                    principal_id=str(item["principal_id"].get("S")),
                    account_id=str(item["account_id"].get("S")),
                    permission_set_arn=str(item["permission_set_arn"].get("S")),
                )
                ledger[target] = _holders(item)
        return ledger
