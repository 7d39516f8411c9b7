"""Replay protection: one DynamoDB item per (key id, nonce), written only if absent.

TTL on ``expires_at`` only keeps the table small; DynamoDB deletes late and expired items still
read back, which is harmless here because the timestamp window, not TTL, bounds acceptance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from botocore.exceptions import BotoCoreError, ClientError

from backend.adapters.tables import NONCE_TTL_ATTRIBUTE, NONCES, TABLE_DEFINITIONS
from backend.auth.errors import NonceStoreUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_CONDITION_FAILED: Final = "ConditionalCheckFailedException"
# "nonce_key": taken from the one table definition so the two cannot drift apart.
NONCE_KEY_ATTRIBUTE: Final[str] = TABLE_DEFINITIONS[NONCES]["KeySchema"][0]["AttributeName"]


class DynamoNonceStore:
    """``NonceStore`` on the ``jit_nonces`` table (low-level client, conditional PutItem)."""

    def __init__(self, client: DynamoDBClient, table_name: str = NONCES) -> None:
        self._client = client
        self._table_name = table_name

    def claim(self, key_id: str, nonce: str, expires_at_epoch: int, sig8: str) -> bool:
        """True when this (key id, nonce) was never seen; False on a replay."""
        try:
            self._client.put_item(
                TableName=self._table_name,
                Item={
                    NONCE_KEY_ATTRIBUTE: {"S": f"{key_id}#{nonce}"},
                    NONCE_TTL_ATTRIBUTE: {"N": str(expires_at_epoch)},
                    "sig8": {"S": sig8},
                },
                ConditionExpression="attribute_not_exists(#k)",
                ExpressionAttributeNames={"#k": NONCE_KEY_ATTRIBUTE},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == _CONDITION_FAILED:
                return False
            raise NonceStoreUnavailable(f"nonce store error: {exc.response.get('Error', {}).get('Code')}") from exc
        except BotoCoreError as exc:
            raise NonceStoreUnavailable(f"nonce store unreachable: {type(exc).__name__}") from exc
        return True
