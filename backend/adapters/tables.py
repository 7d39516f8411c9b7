"""DynamoDB table definitions: one source for local provisioning, tests and the template check.

Names are contract (runbook 01 queries ``jit_requests`` through ``gsi_status_endtime``).
"""

from __future__ import annotations

from typing import Any, Final

REQUESTS: Final = "jit_requests"
AUDIT: Final = "jit_audit"
ASSIGNMENTS: Final = "jit_assignments"
NONCES: Final = "jit_nonces"
CONFIG: Final = "jit_config"
OUTBOX: Final = "jit_outbox"  # lifecycle events not yet delivered to SNS
IDENTITIES: Final = "jit_identities"  # Mattermost account ↔ Identity Center user bindings
BUDGET: Final = "jit_budget"  # the Identity Center call budget shared by every instance

GSI_STATUS_ENDTIME: Final = "gsi_status_endtime"
GSI_STATUS_CREATED: Final = "gsi_status_created"
GSI_REQUESTER: Final = "gsi_requester"
GSI_SESSION_DENY: Final = "gsi_session_deny"  # sparse: REVOKED requests whose Deny statement must stay

NONCE_TTL_ATTRIBUTE: Final = "expires_at"


def _key(name: str, kind: str) -> dict[str, str]:
    return {"AttributeName": name, "KeyType": kind}


def _attr(name: str, type_: str = "S") -> dict[str, str]:
    return {"AttributeName": name, "AttributeType": type_}


def _gsi(name: str, hash_key: str, range_key: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [_key(hash_key, "HASH"), _key(range_key, "RANGE")],
        "Projection": {"ProjectionType": "ALL"},
    }


TABLE_DEFINITIONS: Final[dict[str, dict[str, Any]]] = {
    REQUESTS: {
        "KeySchema": [_key("request_id", "HASH")],
        "AttributeDefinitions": [
            _attr("request_id"),
            _attr("status"),
            _attr("end_time"),
            _attr("created_at"),
            _attr("requester_id"),
            _attr("session_deny_until"),
        ],
        "GlobalSecondaryIndexes": [
            _gsi(GSI_STATUS_ENDTIME, "status", "end_time"),
            _gsi(GSI_STATUS_CREATED, "status", "created_at"),
            _gsi(GSI_REQUESTER, "requester_id", "created_at"),
            _gsi(GSI_SESSION_DENY, "status", "session_deny_until"),
        ],
    },
    AUDIT: {
        "KeySchema": [_key("request_id", "HASH"), _key("at_seq", "RANGE")],
        "AttributeDefinitions": [_attr("request_id"), _attr("at_seq")],
    },
    ASSIGNMENTS: {
        "KeySchema": [_key("assignment_key", "HASH")],
        "AttributeDefinitions": [_attr("assignment_key")],
    },
    NONCES: {
        "KeySchema": [_key("nonce_key", "HASH")],
        "AttributeDefinitions": [_attr("nonce_key")],
    },
    OUTBOX: {
        "KeySchema": [_key("event_id", "HASH")],
        "AttributeDefinitions": [_attr("event_id")],
    },
    BUDGET: {
        "KeySchema": [_key("budget", "HASH")],
        "AttributeDefinitions": [_attr("budget")],
    },
    CONFIG: {
        "KeySchema": [_key("kind", "HASH"), _key("version", "RANGE")],
        "AttributeDefinitions": [_attr("kind"), _attr("version", "N")],
    },
    # Two items per binding, written in one transaction: "mm#<mattermost user id>" (the binding)
    # and "ic#<identity center user id>" (the uniqueness claim on the Identity Center user).
    IDENTITIES: {
        "KeySchema": [_key("binding_key", "HASH")],
        "AttributeDefinitions": [_attr("binding_key")],
    },
}


def create_table_kwargs(name: str) -> dict[str, Any]:
    """Arguments for ``CreateTable`` (on-demand billing) of one of the tables above."""
    return {"TableName": name, "BillingMode": "PAY_PER_REQUEST", **TABLE_DEFINITIONS[name]}
