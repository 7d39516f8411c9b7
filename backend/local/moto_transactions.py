"""DynamoDB transactions on moto that roll back item by item instead of copying whole tables.

moto backs up every table a ``TransactWriteItems`` names with a deep copy of all its items, so it
can roll back a cancelled transaction. The audit table grows with every lifecycle event, so a
burst of revokes on the local stack spent most of its time copying (measured with py-spy: a
hundred simultaneous expiries ran at a few revokes a second). Here the items the transaction
names are copied instead; a cancelled transaction puts exactly those back. What the transaction
does, and the errors it raises, stay moto's own.

Safe because every DynamoDB write on the local stack is serialised (``moto_runtime``): nothing
else changes those items between the copy and the rollback.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

_BACKUP_SKIPPED = threading.local()


class _TablesNotCopied:
    """Stands in for the ``copy`` module inside moto's DynamoDB models: while a transaction runs on
    this thread, a table "copy" is the table itself (the item snapshots below do the rollback)."""

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        if getattr(_BACKUP_SKIPPED, "active", False) and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _key_of(backend: Any, op_type: str, op: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    table_name = op.get("TableName")
    if not table_name or table_name not in backend.tables:
        return None  # moto reports the missing table; there is nothing of it to restore
    table = backend.tables[table_name]
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    source = op.get("Item") if op_type == "Put" else op.get("Key")
    if not isinstance(source, dict) or not all(isinstance(source.get(name), dict) for name in names):
        return None  # a malformed key: moto rejects that operation before it writes anything
    if op_type != "Put" and set(source) != set(names):
        return None
    return table_name, {name: source[name] for name in names}


def install_item_level_transactions() -> None:
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "_jit_item_level_transactions", False):
        return  # installed once per process (moto's classes are shared)
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
        snapshots: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        for entry in transact_items if len(transact_items) <= 100 else []:
            op_type, op = next(iter(entry.items()))
            found = _key_of(backend, op_type, op) if isinstance(op, dict) else None
            if found is not None:
                current = backend.get_item(*found)
                snapshots.append((*found, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
        _BACKUP_SKIPPED.active = True
        try:
            original(backend, transact_items)
        except Exception:
            for table_name, key, attributes in reversed(snapshots):
                if attributes is None:
                    if backend.get_item(table_name, key) is not None:
                        backend.delete_item(table_name, key)
                else:
                    backend.put_item(table_name, attributes)
            raise
        finally:
            _BACKUP_SKIPPED.active = False

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign,assignment]
    DynamoDBBackend._jit_item_level_transactions = True  # type: ignore[attr-defined]
    setattr(models, "copy", _TablesNotCopied())  # noqa: B010 - replacing a module moto imported
