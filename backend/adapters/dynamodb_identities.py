"""Identity bindings in ``jit_identities``: Mattermost account → Identity Center user, one to one.

Each binding is two items written in one transaction: ``mm#<mattermost user id>`` holds the binding
and ``ic#<principal id>`` claims the Identity Center user. Both puts are conditional, so two
Mattermost accounts can never hold the same Identity Center user, however the calls interleave.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from backend.adapters import tables
from backend.domain.errors import BindingExists, BindingNotFound, IdentityTaken
from backend.domain.models import IdentityBinding
from jitwire.timefmt import iso_z, parse_iso_z

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

_KEY = "binding_key"


def _user_key(mattermost_user_id: str) -> dict[str, Any]:
    return {_KEY: {"S": "mm#" + mattermost_user_id}}


def _principal_key(principal_id: str) -> dict[str, Any]:
    return {_KEY: {"S": "ic#" + principal_id}}


def _binding_item(binding: IdentityBinding) -> dict[str, Any]:
    return {
        **_user_key(binding.mattermost_user_id),
        "mattermost_user_id": {"S": binding.mattermost_user_id},
        "mattermost_username": {"S": binding.mattermost_username},
        "principal_id": {"S": binding.principal_id},
        "email": {"S": binding.email},
        "bound_at": {"S": iso_z(binding.bound_at)},
        "verified_by": {"S": binding.verified_by},
    }


def _claim_item(binding: IdentityBinding) -> dict[str, Any]:
    return {**_principal_key(binding.principal_id), "mattermost_user_id": {"S": binding.mattermost_user_id}}


def _binding(item: dict[str, Any]) -> IdentityBinding:
    return IdentityBinding(
        mattermost_user_id=item["mattermost_user_id"]["S"],
        mattermost_username=item["mattermost_username"]["S"],
        principal_id=item["principal_id"]["S"],
        email=item["email"]["S"],
        bound_at=parse_iso_z(item["bound_at"]["S"]),
        verified_by=item["verified_by"]["S"],
    )


def _cancelled(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in (
        "TransactionCanceledException",
        "ConditionalCheckFailedException",
    )


class DynamoIdentityBindings:
    def __init__(self, client: DynamoDBClient) -> None:
        self._client = client

    def get(self, mattermost_user_id: str) -> IdentityBinding | None:
        found = self._client.get_item(
            TableName=tables.IDENTITIES, Key=_user_key(mattermost_user_id), ConsistentRead=True
        ).get("Item")
        return _binding(found) if found else None

    def _claimant(self, principal_id: str) -> str | None:
        found = self._client.get_item(
            TableName=tables.IDENTITIES, Key=_principal_key(principal_id), ConsistentRead=True
        ).get("Item")
        return str(found["mattermost_user_id"]["S"]) if found else None

    def bind(self, binding: IdentityBinding) -> None:
        items: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": tables.IDENTITIES,
                    "Item": _binding_item(binding),
                    "ConditionExpression": "attribute_not_exists(binding_key)",
                }
            },
            {
                "Put": {
                    "TableName": tables.IDENTITIES,
                    "Item": _claim_item(binding),
                    "ConditionExpression": "attribute_not_exists(binding_key)",
                }
            },
        ]
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if not _cancelled(exc):
                raise
            if self.get(binding.mattermost_user_id) is not None:
                raise BindingExists(binding.mattermost_user_id) from exc
            raise IdentityTaken(binding.principal_id) from exc

    def rebind(self, binding: IdentityBinding) -> IdentityBinding | None:
        """Point the account at ``binding.principal_id``; the old claim is released in the same write."""
        old = self.get(binding.mattermost_user_id)
        me = {":me": {"S": binding.mattermost_user_id}}
        items: list[TransactWriteItemTypeDef] = [
            {"Put": {"TableName": tables.IDENTITIES, "Item": _binding_item(binding)}},
            {
                "Put": {
                    "TableName": tables.IDENTITIES,
                    "Item": _claim_item(binding),
                    "ConditionExpression": "attribute_not_exists(binding_key) OR mattermost_user_id = :me",
                    "ExpressionAttributeValues": me,
                }
            },
        ]
        if old is not None and old.principal_id != binding.principal_id:
            items.append(
                {
                    "Delete": {
                        "TableName": tables.IDENTITIES,
                        "Key": _principal_key(old.principal_id),
                        "ConditionExpression": "mattermost_user_id = :me",
                        "ExpressionAttributeValues": me,
                    }
                }
            )
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if not _cancelled(exc):
                raise
            raise IdentityTaken(binding.principal_id) from exc
        return old

    def remove(self, mattermost_user_id: str) -> IdentityBinding:
        old = self.get(mattermost_user_id)
        if old is None:
            raise BindingNotFound(f"no binding for Mattermost user {mattermost_user_id}")
        items: list[TransactWriteItemTypeDef] = [
            {
                "Delete": {
                    "TableName": tables.IDENTITIES,
                    "Key": _user_key(mattermost_user_id),
                    "ConditionExpression": "principal_id = :p",
                    "ExpressionAttributeValues": {":p": {"S": old.principal_id}},
                }
            }
        ]
        if self._claimant(old.principal_id) == mattermost_user_id:
            items.append({"Delete": {"TableName": tables.IDENTITIES, "Key": _principal_key(old.principal_id)}})
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if not _cancelled(exc):
                raise
            raise BindingNotFound(f"the binding of {mattermost_user_id} changed meanwhile; list and retry") from exc
        return old

    def all(self) -> list[IdentityBinding]:
        found: list[IdentityBinding] = []
        for page in self._client.get_paginator("scan").paginate(TableName=tables.IDENTITIES, ConsistentRead=True):
            found += [_binding(item) for item in page.get("Items", []) if item[_KEY]["S"].startswith("mm#")]
        return sorted(found, key=lambda b: (b.mattermost_username, b.mattermost_user_id))
