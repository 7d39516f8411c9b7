"""Step Functions task events received by ``jit-api`` (parsed at the edge, dispatched by kind)."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from backend.service import workflow_tasks

if TYPE_CHECKING:
    from backend.service.unit_of_work import UnitOfWork

log = logging.getLogger("backend.workflow")


class _Task(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore")

    request_id: str = Field(min_length=1, max_length=64)


class GrantTask(_Task):
    task: Literal["grant"]


class WarnTask(_Task):
    task: Literal["warn_expiring"]


class RevokeTask(_Task):
    task: Literal["revoke"]


class StepError(BaseModel):
    """What a Catch puts in ``ResultPath``: ``{"Error": ..., "Cause": ...}``."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore")

    Error: str = "Unknown"
    Cause: str | None = None

    def describe(self) -> str:
        message = self.Cause or ""
        try:
            cause = json.loads(message)
        except (TypeError, ValueError):
            cause = None
        if isinstance(cause, dict) and "errorMessage" in cause:
            message = str(cause["errorMessage"])
        return f"{self.Error}: {message}".strip().rstrip(":")


class MarkErrorTask(_Task):
    task: Literal["mark_error"]
    error: StepError


class RecordRevokeFailureTask(_Task):
    task: Literal["record_revoke_failure"]
    error: StepError


TaskEvent = Annotated[
    GrantTask | WarnTask | RevokeTask | MarkErrorTask | RecordRevokeFailureTask, Field(discriminator="task")
]
TASK_EVENT: TypeAdapter[TaskEvent] = TypeAdapter(TaskEvent)


def handle_task(uow: UnitOfWork, event: dict[str, Any]) -> dict[str, Any]:
    task = TASK_EVENT.validate_python(event)
    log.info("workflow task %s for %s", task.task, task.request_id)
    match task:
        case GrantTask(request_id=rid):
            return workflow_tasks.grant(uow, rid)
        case WarnTask(request_id=rid):
            return workflow_tasks.warn_expiring(uow, rid)
        case RevokeTask(request_id=rid):
            return workflow_tasks.revoke(uow, rid)
        case MarkErrorTask(request_id=rid, error=error):
            return workflow_tasks.mark_error(uow, rid, error.describe())
        case RecordRevokeFailureTask(request_id=rid, error=error):
            return workflow_tasks.record_revoke_failure(uow, rid, error.describe())
    raise AssertionError("unreachable")  # pragma: no cover
