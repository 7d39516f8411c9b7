"""DynamoDB persistence of requests, their audit trail and the event outbox.

Every transition is one ``TransactWriteItems``: the request (conditional on its current status
and version), an audit event that nothing ever updates (``attribute_not_exists``), and an outbox
entry the reconciler republishes if delivery to SNS failed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from backend.adapters import tables
from backend.domain.errors import ConcurrentUpdate, RequestAlreadyExists, RequestNotFound
from backend.domain.models import AccessRequest
from backend.domain.ports import AuditEntry, OutboxEvent
from jitwire.models import CardRef, Person, RequestStatus
from jitwire.timefmt import iso_z, parse_iso_z

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import PutTypeDef

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_attrs(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in item.items() if v is not None}


def _from_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in attrs.items()}


def _person(data: dict[str, Any] | None) -> Person | None:
    return Person.model_validate(data) if data else None


def request_to_item(request: AccessRequest) -> dict[str, Any]:
    ts = iso_z
    return {
        "request_id": request.request_id,
        "requester_id": request.requester.user_id,
        "requester": request.requester.model_dump(),
        "principal_id": request.principal_id,
        "account_id": request.account_id,
        "account_name": request.account_name,
        "permission_set_name": request.permission_set_name,
        "permission_set_arn": request.permission_set_arn,
        "duration_seconds": int(request.duration.total_seconds()),
        "reason": request.reason,
        "rule_name": request.rule_name,
        "approvals_required": request.approvals_required,
        "status": request.status.value,
        "version": request.version,
        "created_at": ts(request.created_at),
        "approval_deadline": ts(request.approval_deadline),
        "approvals": [
            {"approver": a.approver.model_dump(), "at": ts(a.at), "principal_id": a.principal_id}
            for a in request.approvals
        ],
        "decided_by": request.decided_by.model_dump() if request.decided_by else None,
        "decision_note": request.decision_note,
        "start_time": ts(request.start_time) if request.start_time else None,
        "end_time": ts(request.end_time) if request.end_time else None,  # absent keeps the GSI sparse
        "warn_at": ts(request.warn_at) if request.warn_at else None,
        "revoke_failures": request.revoke_failures,
        "last_error": request.last_error,
        "card": request.card.model_dump() if request.card else None,
        "idempotency_key": request.idempotency_key,
        "revoke_requested_at": ts(request.revoke_requested_at) if request.revoke_requested_at else None,
        "sessions_ended_at": ts(request.sessions_ended_at) if request.sessions_ended_at else None,
        # absent keeps gsi_session_deny sparse: only revokes whose Deny statement must stay
        "session_deny_until": ts(request.session_deny_until) if request.session_deny_until else None,
        "session_deny_wide": request.session_deny_wide or None,
        "notify_approvers": request.notify_approvers,
        "approver_user_ids": list(request.approver_user_ids),
        "reminded_at": ts(request.reminded_at) if request.reminded_at else None,
    }


def _opt_time(value: str | None) -> datetime | None:
    return parse_iso_z(value) if value else None


def request_from_item(item: dict[str, Any]) -> AccessRequest:
    return AccessRequest(
        request_id=item["request_id"],
        requester=Person.model_validate(item["requester"]),
        principal_id=item["principal_id"],
        account_id=item["account_id"],
        account_name=item["account_name"],
        permission_set_name=item["permission_set_name"],
        permission_set_arn=item["permission_set_arn"],
        duration=timedelta(seconds=int(item["duration_seconds"])),
        reason=item["reason"],
        rule_name=item["rule_name"],
        approvals_required=int(item["approvals_required"]),
        status=RequestStatus(item["status"]),
        version=int(item["version"]),
        created_at=parse_iso_z(item["created_at"]),
        approval_deadline=parse_iso_z(item["approval_deadline"]),
        approvals=tuple(
            {
                "approver": Person.model_validate(a["approver"]),
                "at": parse_iso_z(a["at"]),
                "principal_id": a.get("principal_id"),
            }
            for a in item.get("approvals", [])
        ),
        decided_by=_person(item.get("decided_by")),
        decision_note=item.get("decision_note"),
        start_time=_opt_time(item.get("start_time")),
        end_time=_opt_time(item.get("end_time")),
        warn_at=_opt_time(item.get("warn_at")),
        revoke_failures=int(item.get("revoke_failures", 0)),
        last_error=item.get("last_error"),
        card=CardRef.model_validate(item["card"]) if item.get("card") else None,
        idempotency_key=item.get("idempotency_key"),
        revoke_requested_at=_opt_time(item.get("revoke_requested_at")),
        sessions_ended_at=_opt_time(item.get("sessions_ended_at")),
        session_deny_until=_opt_time(item.get("session_deny_until")),
        session_deny_wide=bool(item.get("session_deny_wide", False)),
        notify_approvers=item.get("notify_approvers") or "channel",
        approver_user_ids=tuple(item.get("approver_user_ids") or ()),
        reminded_at=_opt_time(item.get("reminded_at")),
    )


def audit_to_item(request_id: str, seq: int, entry: AuditEntry) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "at_seq": f"{iso_z(entry.at)}#{seq:06d}",
        "event_id": entry.event_id,
        "type": entry.type,
        "at": iso_z(entry.at),
        "actor": entry.actor.model_dump() if entry.actor else None,
        "from_status": entry.from_status.value if entry.from_status else None,
        "to_status": entry.to_status.value,
        "detail": entry.detail,
    }


class DynamoRequestStore:
    def __init__(self, client: DynamoDBClient) -> None:
        self._client = client

    def _transaction(self, request_put: PutTypeDef, request: AccessRequest, entry: AuditEntry, payload: str) -> None:
        self._client.transact_write_items(
            TransactItems=[
                {"Put": request_put},
                {
                    "Put": {
                        "TableName": tables.AUDIT,
                        # The event (with the request snapshot) makes the audit table enough for a report.
                        "Item": _to_attrs(
                            audit_to_item(request.request_id, request.version, entry) | {"event": payload}
                        ),
                        "ConditionExpression": "attribute_not_exists(request_id)",
                    }
                },
                {
                    "Put": {
                        "TableName": tables.OUTBOX,
                        "Item": _to_attrs(
                            {"event_id": entry.event_id, "payload": payload, "created_at": iso_z(entry.at)}
                        ),
                    }
                },
            ]
        )

    def create(self, request: AccessRequest, entry: AuditEntry, event_payload: str) -> None:
        put: PutTypeDef = {
            "TableName": tables.REQUESTS,
            "Item": _to_attrs(request_to_item(request)),
            "ConditionExpression": "attribute_not_exists(request_id)",
        }
        try:
            self._transaction(put, request, entry, event_payload)
        except ClientError as exc:
            if _first_condition_failed(exc):
                raise RequestAlreadyExists(f"request {request.request_id} exists") from exc
            raise

    def save(self, before: AccessRequest, after: AccessRequest, entry: AuditEntry, event_payload: str) -> None:
        put: PutTypeDef = {
            "TableName": tables.REQUESTS,
            "Item": _to_attrs(request_to_item(after)),
            "ConditionExpression": "#s = :status AND #v = :version",
            "ExpressionAttributeNames": {"#s": "status", "#v": "version"},
            "ExpressionAttributeValues": {
                ":status": {"S": before.status.value},
                ":version": {"N": str(before.version)},
            },
        }
        try:
            self._transaction(put, after, entry, event_payload)
        except ClientError as exc:
            if _first_condition_failed(exc):
                raise ConcurrentUpdate(f"request {before.request_id} changed meanwhile") from exc
            raise

    def get(self, request_id: str) -> AccessRequest:
        response = self._client.get_item(
            TableName=tables.REQUESTS, Key={"request_id": {"S": request_id}}, ConsistentRead=True
        )
        if "Item" not in response:
            raise RequestNotFound(f"no request {request_id}")
        return request_from_item(_from_attrs(response["Item"]))

    def set_card(self, request_id: str, card: CardRef) -> AccessRequest:
        try:
            response = self._client.update_item(
                TableName=tables.REQUESTS,
                Key={"request_id": {"S": request_id}},
                UpdateExpression="SET card = :card",
                # The first card placed stays: two bot replicas racing to post a card both call this.
                ConditionExpression="attribute_exists(request_id) AND (attribute_not_exists(card) OR card = :card)",
                ExpressionAttributeValues={":card": _serializer.serialize(card.model_dump())},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return self.get(request_id)  # RequestNotFound, or the request with the card that won
            raise
        return request_from_item(_from_attrs(response["Attributes"]))

    def _query(self, limit: int, **kwargs: Any) -> list[AccessRequest]:
        found: list[AccessRequest] = []
        paginator = self._client.get_paginator("query")
        for page in paginator.paginate(TableName=tables.REQUESTS, **kwargs):
            found.extend(request_from_item(_from_attrs(i)) for i in page.get("Items", []))
            if len(found) >= limit:
                break
        return found[:limit]

    def list_by_requester(self, requester_id: str, limit: int) -> list[AccessRequest]:
        return self._query(
            limit,
            IndexName=tables.GSI_REQUESTER,
            KeyConditionExpression="requester_id = :r",
            ExpressionAttributeValues={":r": {"S": requester_id}},
            ScanIndexForward=False,
        )

    def list_by_status(self, status: RequestStatus, limit: int) -> list[AccessRequest]:
        return self._query(
            limit,
            IndexName=tables.GSI_STATUS_CREATED,
            KeyConditionExpression="#s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": status.value}},
        )

    def granted_ending_before(self, moment: datetime) -> list[AccessRequest]:
        """Exactly the query of runbook 01: GRANTED with ``end_time <= now`` on gsi_status_endtime."""
        return self._query(
            10_000,
            IndexName=tables.GSI_STATUS_ENDTIME,
            KeyConditionExpression="#s = :s AND end_time <= :now",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": RequestStatus.GRANTED.value}, ":now": {"S": iso_z(moment)}},
        )

    def session_denies_in_force(self, moment: datetime) -> list[AccessRequest]:
        """REVOKED requests whose session-ending Deny statement must still be in place at ``moment``."""
        return self._query(
            10_000,
            IndexName=tables.GSI_SESSION_DENY,
            KeyConditionExpression="#s = :s AND session_deny_until > :now",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": RequestStatus.REVOKED.value}, ":now": {"S": iso_z(moment)}},
        )

    def audit_trail(self, request_id: str) -> list[AuditEntry]:
        paginator = self._client.get_paginator("query")
        entries: list[AuditEntry] = []
        for page in paginator.paginate(
            TableName=tables.AUDIT,
            KeyConditionExpression="request_id = :r",
            ExpressionAttributeValues={":r": {"S": request_id}},
        ):
            for raw in page.get("Items", []):
                item = _from_attrs(raw)
                entries.append(
                    AuditEntry(
                        event_id=item["event_id"],
                        type=item["type"],
                        at=parse_iso_z(item["at"]),
                        actor=_person(item.get("actor")),
                        from_status=RequestStatus(item["from_status"]) if item.get("from_status") else None,
                        to_status=RequestStatus(item["to_status"]),
                        detail=item.get("detail"),
                    )
                )
        return entries

    def pending_outbox(self, created_before: datetime) -> list[OutboxEvent]:
        paginator = self._client.get_paginator("scan")
        events: list[OutboxEvent] = []
        for page in paginator.paginate(
            TableName=tables.OUTBOX,
            FilterExpression="created_at <= :t",
            ExpressionAttributeValues={":t": {"S": iso_z(created_before)}},
            ConsistentRead=True,
        ):
            for raw in page.get("Items", []):
                item = _from_attrs(raw)
                events.append(OutboxEvent(item["event_id"], item["payload"], parse_iso_z(item["created_at"])))
        return sorted(events, key=lambda e: e.created_at)

    def delete_outbox(self, event_id: str) -> None:
        self._client.delete_item(TableName=tables.OUTBOX, Key={"event_id": {"S": event_id}})


def _first_condition_failed(exc: ClientError) -> bool:
    """True when the request item's condition (the first of the transaction) failed."""
    error = exc.response.get("Error", {})
    if error.get("Code") == "ConditionalCheckFailedException":
        return True
    if error.get("Code") != "TransactionCanceledException":
        return False
    reasons = exc.response.get("CancellationReasons") or _parse_reasons(error.get("Message", ""))
    return bool(reasons) and reasons[0].get("Code") == "ConditionalCheckFailed"


def _parse_reasons(message: str) -> list[dict[str, str]]:
    """Older SDKs only put the reasons in the message: ``[ConditionalCheckFailed, None, None]``."""
    start, end = message.find("["), message.rfind("]")
    if start < 0 or end < start:
        return []
    return [{"Code": part.strip()} for part in message[start + 1 : end].split(",")]
