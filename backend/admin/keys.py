"""Key rotation on the Secrets Manager key set (runbook 02). Secrets are never printed."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

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
        """First key of a fresh deployment (the template creates the secret as an empty placeholder)."""
        try:
            self.load()
        except KeyStoreUnavailable:
            keyset = KeySet(keys=[entry])
            self.save(keyset)
            return keyset
        raise ValueError("the key set already holds keys; rotate with keys add / promote / retire")

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


def write_secret_file(path: Path, entry: KeyEntry, audience: str) -> None:
    """The bot's key file (same shape as the local stack's bot-key.json), owner-only, never overwritten."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"key_id": entry.id, "secret": entry.secret, "audience": audience}, handle)
