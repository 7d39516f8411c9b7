"""The HMAC key set in Secrets Manager (one secret, JSON text; see ``backend.auth.keyset``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from backend.auth.errors import KeyStoreUnavailable
from backend.auth.keyset import KeySet

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


class SecretsManagerKeySetProvider:
    """``KeySetProvider`` reading the current version of ``secret_id``."""

    def __init__(self, client: SecretsManagerClient, secret_id: str) -> None:
        self._client = client
        self._secret_id = secret_id

    def load(self) -> KeySet:
        try:
            response = self._client.get_secret_value(SecretId=self._secret_id)
        except (ClientError, BotoCoreError) as exc:
            raise KeyStoreUnavailable(f"cannot read key set secret: {type(exc).__name__}") from exc
        text = response.get("SecretString")
        if text is None:
            raise KeyStoreUnavailable("key set secret has no SecretString")
        try:
            return KeySet.from_json(text)
        except ValidationError as exc:
            # Only locations and messages: the input holds key material. "from None" keeps the
            # original error (and its input) out of tracebacks.
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or '<root>'}: {error['msg']}"
                for error in exc.errors(include_input=False, include_url=False)
            )
            raise KeyStoreUnavailable(f"key set secret is invalid: {problems}") from None


def write_keyset(
    client: SecretsManagerClient, secret_id: str, keyset: KeySet, *, create_if_missing: bool = False
) -> None:
    """Store ``keyset`` as the secret's new current version.

    ``create_if_missing`` is for the local stack; the admin CLI leaves it off so a mistyped secret id
    fails instead of silently creating a second key set.
    """
    text = keyset.to_json()
    try:
        client.put_secret_value(SecretId=secret_id, SecretString=text)
    except client.exceptions.ResourceNotFoundException:
        if not create_if_missing:
            raise
        client.create_secret(Name=secret_id, SecretString=text)
