"""Key rotation on the Secrets Manager key set (runbook 02). Secrets are never printed."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from backend.adapters.secrets_keyset import SecretsManagerKeySetProvider, write_keyset
from backend.auth.errors import KeyStoreUnavailable
from backend.auth.keyset import KeyEntry, KeySet, add_key, promote, remove_key, retire

if TYPE_CHECKING:
    from datetime import datetime, timedelta
    from pathlib import Path

    from mypy_boto3_secretsmanager import SecretsManagerClient


class KeyStore:
    """Read-modify-write of the one key-set secret (the admin CLI is its only writer)."""

    def __init__(self, client: SecretsManagerClient, secret_id: str) -> None:
        self._client = client
        self._secret_id = secret_id

    def load(self) -> KeySet:
        return SecretsManagerKeySetProvider(self._client, self._secret_id).load()

    def save(self, keyset: KeySet) -> None:
        write_keyset(self._client, self._secret_id, keyset)

    def init(self, entry: KeyEntry) -> KeySet:
        """First key of a fresh deployment: only when the secret definitely does not exist
        (ResourceNotFoundException) or is the template's empty placeholder. A throttle, a denied
        read or unreadable text could hide a live key set, so they stop here and write nothing."""
        text = self._current_text()
        if text is not None and not _is_placeholder(text):
            raise ValueError("the key set already holds keys; rotate with keys add / promote / retire")
        keyset = KeySet(keys=[entry])
        write_keyset(self._client, self._secret_id, keyset, create_if_missing=text is None)
        return keyset

    def _current_text(self) -> str | None:
        """The secret's current text; None only when Secrets Manager says it does not exist."""
        try:
            response = self._client.get_secret_value(SecretId=self._secret_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise KeyStoreUnavailable(f"cannot read key set secret: {type(exc).__name__}") from exc
        except BotoCoreError as exc:
            raise KeyStoreUnavailable(f"cannot read key set secret: {type(exc).__name__}") from exc
        text = response.get("SecretString")
        if text is None:
            raise KeyStoreUnavailable("key set secret has no SecretString")
        return text

    def add(self, entry: KeyEntry) -> KeySet:
        keyset = add_key(self.load(), entry)
        self.save(keyset)
        return keyset

    def promote(self, key_id: str, overlap: timedelta, now: datetime) -> KeySet:
        keyset = promote(self.load(), key_id, overlap, now)
        self.save(keyset)
        return keyset

    def retire(self, key_id: str) -> KeySet:
        keyset = retire(self.load(), key_id)
        self.save(keyset)
        return keyset

    def remove(self, key_id: str) -> KeySet:
        keyset = remove_key(self.load(), key_id)
        self.save(keyset)
        return keyset


def _is_placeholder(text: str) -> bool:
    """The template's initial value: ``{"keys": []}``."""
    try:
        return bool(json.loads(text) == {"keys": []})
    except ValueError:
        return False


def write_secret_file(path: Path, entry: KeyEntry, audience: str) -> None:
    """The bot's key file (same shape as the local stack's bot-key.json), owner-only, never overwritten."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"key_id": entry.id, "secret": entry.secret, "audience": audience}, handle)
