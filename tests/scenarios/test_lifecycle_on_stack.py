"""The whole lifecycle through the signed HTTP API, the real ASL executed by moto, and Identity Center."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest

from backend.adapters import tables
from jitwire.client import BackendError
from jitwire.models import RequestStatus as S
from tests.scenarios.helpers import ALICE, BOB, CAROL, DAVE, ask, assignments_of, item_count


def test_request_approve_grant_then_revoke_at_end_time(stack):
    created = ask(stack)
    assert created.status is S.PENDING
    stack.client().decide(BOB, created.request_id, "approve")
    granted = stack.wait_for(created.request_id, S.GRANTED)
    assert assignments_of(stack, granted) == 1
    assert granted.end_time - granted.start_time == timedelta(hours=2)
    stack.advance(timedelta(hours=1, minutes=55))
    stack.wait_for(created.request_id, S.GRANTED, revoke_failures=0)
    stack.advance(timedelta(minutes=5, seconds=1))
    stack.wait_for(created.request_id, S.REVOKED)
    assert assignments_of(stack, granted) == 0
    [execution] = stack.executions()
    assert execution["name"] == created.request_id
    assert _wait_execution(stack, "SUCCEEDED")
    types = [e.type for e in stack.uow.store.audit_trail(created.request_id)]
    assert types == [
        "request.created",
        "request.approved",
        "request.granted",
        "request.expiring_soon",
        "request.revoked",
    ]


def test_lifecycle_events_reach_the_jit_events_topic(stack):
    sqs = boto3.client("sqs", endpoint_url=stack.moto_url, region_name=stack.config.region)
    queue_url = sqs.create_queue(QueueName="events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.clients.sns.subscribe(TopicArn=stack.provisioned.events_topic_arn, Protocol="sqs", Endpoint=queue_arn)
    created = ask(stack)
    stack.client().decide(BOB, created.request_id, "approve")
    stack.wait_for(created.request_id, S.GRANTED)
    received = []
    for _ in range(5):
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        received += [json.loads(json.loads(m["Body"])["Message"]) for m in batch]
    assert [e["type"] for e in received] == ["request.created", "request.approved", "request.granted"]
    assert {e["request"]["request_id"] for e in received} == {created.request_id}
    assert len({e["event_id"] for e in received}) == 3
    assert received[-1]["request"]["status"] == "GRANTED"
    assert item_count(stack, tables.OUTBOX) == 0


def test_two_approvals_are_needed_and_counted(stack):
    created = ask(stack, permission_set="PowerUserAccess", duration="1h")
    once = stack.client().decide(BOB, created.request_id, "approve")
    assert once.status is S.PENDING and [a.approver.username for a in once.approvals] == ["bob"]
    with pytest.raises(BackendError) as again:
        stack.client().decide(BOB, created.request_id, "approve")
    assert again.value.status == 409 and "already approved" in again.value.message
    twice = stack.client().decide(CAROL, created.request_id, "approve")
    assert twice.status is S.APPROVED
    stack.wait_for(created.request_id, S.GRANTED)


def test_self_approval_is_refused_and_changes_nothing(stack):
    created = ask(stack, who=BOB.model_copy(update={"email": "alice@example.com", "user_id": "mmalice"}))
    with pytest.raises(BackendError) as refused:
        stack.client().decide(ALICE, created.request_id, "approve")
    assert refused.value.status == 403
    assert stack.uow.store.get(created.request_id).version == 1


def test_deny_and_cancel_end_without_access(stack):
    denied = ask(stack)
    assert stack.client().decide(BOB, denied.request_id, "deny", "not now").status is S.DENIED
    cancelled = ask(stack)
    with pytest.raises(BackendError) as not_yours:
        stack.client().cancel(BOB, cancelled.request_id)
    assert not_yours.value.status == 403
    assert stack.client().cancel(ALICE, cancelled.request_id).status is S.CANCELLED
    assert stack.executions() == []


def test_approval_after_expiry_expires_the_request(stack):
    created = ask(stack)
    stack.advance(timedelta(hours=1, seconds=1))
    with pytest.raises(BackendError) as late:
        stack.client().decide(BOB, created.request_id, "approve")
    assert late.value.status == 410
    assert stack.uow.store.get(created.request_id).status is S.EXPIRED
    assert stack.executions() == []


def test_standing_access_is_refused_and_nothing_is_written(stack):
    before = item_count(stack, tables.REQUESTS)
    with pytest.raises(BackendError) as standing:
        ask(stack, who=DAVE, permission_set="ReadOnlyAccess")
    assert standing.value.status == 409 and "outside JIT" in standing.value.message
    assert item_count(stack, tables.REQUESTS) == before


def test_auto_approved_request_is_granted_without_a_click(stack):
    created = ask(stack, account="staging")
    assert created.status is S.APPROVED
    stack.wait_for(created.request_id, S.GRANTED)


def test_overlapping_grants_keep_access_until_the_last_ends(stack):
    short = ask(stack, permission_set="ReadOnlyAccess", duration="1h")
    stack.client().decide(BOB, short.request_id, "approve")
    first = stack.wait_for(short.request_id, S.GRANTED)
    long = ask(stack, permission_set="ReadOnlyAccess", duration="3h")
    stack.client().decide(CAROL, long.request_id, "approve")
    stack.wait_for(long.request_id, S.GRANTED)
    stack.advance(timedelta(hours=1, seconds=1))
    stack.wait_for(short.request_id, S.REVOKED)
    assert assignments_of(stack, first) == 1, "the earlier expiry removed access the later grant holds"
    assert stack.uow.store.get(long.request_id).status is S.GRANTED
    stack.advance(timedelta(hours=2))
    stack.wait_for(long.request_id, S.REVOKED)
    assert assignments_of(stack, first) == 0


def test_early_revoke_by_the_requester(stack):
    created = ask(stack)
    stack.client().decide(BOB, created.request_id, "approve")
    granted = stack.wait_for(created.request_id, S.GRANTED)
    answer = stack.client().revoke(ALICE, created.request_id, "done")
    assert answer.status is S.GRANTED and answer.end_time <= granted.end_time
    stack.wait_for(created.request_id, S.REVOKED)
    assert assignments_of(stack, granted) == 0


def test_extend_moves_the_revoke_later(stack):
    created = ask(stack, duration="1h")
    stack.client().decide(BOB, created.request_id, "approve")
    granted = stack.wait_for(created.request_id, S.GRANTED)
    extended = stack.client().extend(ALICE, created.request_id, "1h")
    assert extended.end_time == granted.end_time + timedelta(hours=1)
    stack.advance(timedelta(hours=1, seconds=1))
    assert stack.uow.store.get(created.request_id).status is S.GRANTED
    stack.advance(timedelta(hours=1))
    stack.wait_for(created.request_id, S.REVOKED)


def test_extend_past_the_maximum_is_refused(stack):
    created = ask(stack, duration="4h")
    stack.client().decide(BOB, created.request_id, "approve")
    stack.wait_for(created.request_id, S.GRANTED)
    with pytest.raises(BackendError) as refused:
        stack.client().extend(ALICE, created.request_id, "1h")
    assert refused.value.status == 403 and "at most 4h" in refused.value.message


def test_idempotent_create_returns_the_same_request(stack):
    from jitwire.contract import CreateRequestBody

    body = CreateRequestBody(
        actor=ALICE,
        account="prod",
        permission_set="AdministratorAccess",
        duration="1h",
        reason="x-1",
        idempotency_key="same-key-123",
    )
    first = stack.client().create_request(body)
    second = stack.client().create_request(body)
    assert first.request_id == second.request_id
    changed = body.model_copy(update={"duration": "2h"})
    with pytest.raises(BackendError) as reused:
        stack.client().create_request(changed)
    assert reused.value.status == 409
    assert item_count(stack, tables.REQUESTS) == 1


def test_catalog_and_lists(stack):
    catalog = stack.client().catalog(ALICE)
    assert ("prod", "AdministratorAccess") in {(e.account_name, e.permission_set) for e in catalog.entries}
    created = ask(stack)
    assert [r.request_id for r in stack.client().list_requests(ALICE).requests] == [created.request_id]
    pending_for_bob = stack.client().list_requests(BOB, view="pending_approval").requests
    assert [r.request_id for r in pending_for_bob] == [created.request_id]
    assert stack.client().list_requests(CAROL, view="pending_approval").requests[0].request_id == created.request_id
    with pytest.raises(BackendError):
        stack.client().list_requests(ALICE, view="status", status="GRANTED")
    assert (
        stack.client().list_requests(DAVE, view="status", status="PENDING").requests[0].request_id == created.request_id
    )


def test_policy_get_and_put_by_admins_only(stack):
    policy = stack.client().get_policy(DAVE)
    with pytest.raises(BackendError) as not_admin:
        stack.client().put_policy(ALICE, policy)
    assert not_admin.value.status == 403
    policy["expiry_warning"] = "15m"
    assert stack.client().put_policy(DAVE, policy) == 2
    broken = dict(policy, rules=[dict(policy["rules"][0], accounts=["nowhere"])])
    with pytest.raises(BackendError) as invalid:
        stack.client().put_policy(DAVE, broken)
    assert invalid.value.status == 400 and "unknown accounts" in invalid.value.message


def _wait_execution(stack, status: str) -> bool:
    import time

    for _ in range(200):
        if all(e["status"] == status for e in stack.executions()):
            return True
        time.sleep(0.05)
    return False
