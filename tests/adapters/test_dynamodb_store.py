"""The DynamoDB adapters against moto's server (the local stack's tables)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from backend.adapters import tables
from backend.adapters.dynamodb_requests import DynamoRequestStore, audit_to_item, request_to_item
from backend.domain.errors import ConcurrentUpdate, RequestAlreadyExists, RequestNotFound
from backend.domain.ports import AuditEntry
from jitwire.models import CardRef, RequestStatus
from jitwire.timefmt import iso_z
from tests.unit.world import BOB, T0, pending


def _entry(event_id, before, after, at=T0):
    return AuditEntry(event_id=event_id, type="test", at=at, actor=BOB, from_status=before, to_status=after)


@pytest.fixture
def store(stack):
    return DynamoRequestStore(stack.clients.dynamodb)


def test_round_trip_keeps_every_field(store):
    request = pending(card=None, decision_note="n", revoke_failures=2)
    store.create(request, _entry("e1", None, RequestStatus.PENDING), "{}")
    assert store.get("r1") == request


def test_round_trip_keeps_the_approver_notices(store):
    request = pending(
        notify_approvers="both", approver_user_ids=("ubob", "ucarol"), reminded_at=T0 + timedelta(minutes=30)
    )
    store.create(request, _entry("e1", None, RequestStatus.PENDING), "{}")
    assert store.get("r1") == request


def test_create_twice_is_refused(store):
    store.create(pending(), _entry("e1", None, RequestStatus.PENDING), "{}")
    with pytest.raises(RequestAlreadyExists):
        store.create(pending(), _entry("e2", None, RequestStatus.PENDING), "{}")


def test_a_stale_version_loses_and_writes_nothing(store):
    request = pending()
    store.create(request, _entry("e1", None, RequestStatus.PENDING), "{}")
    approved = request.model_copy(update={"status": RequestStatus.APPROVED, "version": 2})
    store.save(request, approved, _entry("e2", RequestStatus.PENDING, RequestStatus.APPROVED), "{}")
    denied = request.model_copy(update={"status": RequestStatus.DENIED, "version": 2})
    with pytest.raises(ConcurrentUpdate):
        store.save(request, denied, _entry("e3", RequestStatus.PENDING, RequestStatus.DENIED), "{}")
    assert store.get("r1").status is RequestStatus.APPROVED
    assert [e.event_id for e in store.audit_trail("r1")] == ["e1", "e2"]


def test_audit_events_cannot_be_overwritten(stack, store):
    store.create(pending(), _entry("e1", None, RequestStatus.PENDING), "{}")
    item = audit_to_item("r1", 1, _entry("forged", None, RequestStatus.GRANTED))
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        stack.clients.dynamodb.put_item(
            TableName=tables.AUDIT,
            Item={k: {"S": v} for k, v in item.items() if isinstance(v, str)},
            ConditionExpression="attribute_not_exists(request_id)",
        )
    assert store.audit_trail("r1")[0].event_id == "e1"


def test_the_runbook_query_finds_expired_grants(stack, store):
    """Runbook 01, JIT-ReconcilerErrors step 2, exactly as written there."""
    granted = pending(status=RequestStatus.GRANTED, start_time=T0, end_time=T0 + timedelta(hours=1), warn_at=T0)
    store.create(granted, _entry("e1", None, RequestStatus.PENDING), "{}")
    store.create(pending(request_id="r2"), _entry("e2", None, RequestStatus.PENDING), "{}")
    now = iso_z(T0 + timedelta(hours=2))
    response = stack.clients.dynamodb.query(
        TableName="jit_requests",
        IndexName="gsi_status_endtime",
        KeyConditionExpression="#s = :s AND end_time <= :now",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=json.loads('{":s":{"S":"GRANTED"},":now":{"S":"' + now + '"}}'),
    )
    assert [i["request_id"]["S"] for i in response["Items"]] == ["r1"]
    assert [r.request_id for r in store.granted_ending_before(T0 + timedelta(hours=2))] == ["r1"]


def test_pending_requests_stay_out_of_the_end_time_index(stack, store):
    store.create(pending(), _entry("e1", None, RequestStatus.PENDING), "{}")
    assert "end_time" not in request_to_item(pending()) or request_to_item(pending())["end_time"] is None
    assert store.list_by_status(RequestStatus.PENDING, 10)[0].request_id == "r1"


def test_the_first_card_placed_stays_and_placing_it_again_is_harmless(store):
    store.create(pending(card=None), _entry("e1", None, RequestStatus.PENDING), "{}")
    first, second = CardRef(channel_id="c", post_id="p1"), CardRef(channel_id="c", post_id="p2")
    assert store.set_card("r1", first).card == first
    assert store.set_card("r1", second).card == first  # the racing replica learns it lost
    assert store.set_card("r1", first).card == first  # a retried placement of the winner
    assert store.get("r1").card == first
    with pytest.raises(RequestNotFound):
        store.set_card("nothere", first)
