"""After an early revoke (or a chat break-glass), the access can no longer be extended (409).

The revoke execution is held back here (a recording workflow), as it is in AWS while its task waits
for a Lambda slot or a throttled Identity Center: the request is still GRANTED with end_time = now.
"""

from __future__ import annotations

import dataclasses

import pytest

from backend.service import access_requests as use_cases
from backend.service import workflow_tasks
from jitwire.client import BackendError
from jitwire.models import RequestStatus as S
from tests.fakes.ports import RecordingWorkflow
from tests.scenarios.helpers import ALICE, BOB, DAVE, ask


@pytest.mark.parametrize(
    ("revoker", "note"),
    [(BOB, "ended by an approver"), (DAVE, "break-glass: leaked credentials")],
    ids=["approver-revoke", "break-glass"],
)
def test_extend_is_refused_once_a_revoke_was_requested(stack, revoker, note):
    created = ask(stack, duration="2h")
    stack.client().decide(BOB, created.request_id, "approve")
    stack.wait_for(created.request_id, S.GRANTED)
    held = RecordingWorkflow()
    revoked = use_cases.revoke_early(dataclasses.replace(stack.uow, workflow=held), revoker, created.request_id, note)
    assert revoked.status is S.GRANTED and revoked.revoke_requested_at is not None
    assert [mode for _name, _id, mode in held.started] == ["revoke"]

    with pytest.raises(BackendError) as refused:
        stack.client().extend(ALICE, created.request_id, "1h")
    assert (refused.value.status, refused.value.code) == (409, "revoke_requested")
    assert "revoked early" in refused.value.message and "cannot be extended" in refused.value.message
    assert stack.uow.store.get(created.request_id).end_time == revoked.end_time
    assert workflow_tasks.revoke(stack.uow, created.request_id)["outcome"] == "revoked"
