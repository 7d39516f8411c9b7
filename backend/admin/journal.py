"""The break-glass journal: what was planned and what was done, on local disk before anything else.

Written before the first delete and after every step, so a revoke that could not be recorded in
DynamoDB (or whose process died) can be finished with ``jit-admin break-glass resume <file>``.
"""

from __future__ import annotations

import os
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from backend.domain.assignment import AssignmentTarget
from jitwire.models import Person, RequestStatus
from jitwire.timefmt import iso_z


class StepState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Step(_Frozen):
    state: StepState = StepState.PENDING
    error: str | None = None


class TargetStep(Step):
    """One Identity Center assignment to delete."""

    target: AssignmentTarget
    source: Literal["ledger", "sweep"]  # sweep: a live assignment the ledger does not name
    holders: tuple[str, ...] = ()


class RecordStep(Step):
    """One request to record as revoked (and release from the ledger) once its assignment is gone."""

    request_id: str
    target: AssignmentTarget
    status_seen: RequestStatus | None  # None: the ledger names a request the store does not know


class SessionStep(Step):
    """End live sessions for a deleted assignment (Deny statement provisioned); what was done."""

    target: AssignmentTarget
    ended_at: datetime | None = None
    until: datetime | None = None
    wide: bool = False


class NoticeStep(Step):
    """An ``access.break_glass`` event for a swept assignment that no request held."""

    target: AssignmentTarget


class Journal(_Frozen):
    journal_id: str
    scope: str  # "request <id>", "user <login>" or "all"
    reason: str
    operator: Person
    started_at: datetime
    targets: tuple[TargetStep, ...]
    records: tuple[RecordStep, ...]
    notices: tuple[NoticeStep, ...] = ()
    sessions: tuple[SessionStep, ...] = ()  # empty with --keep-sessions

    @property
    def deletes_done(self) -> bool:
        return all(step.state is StepState.DONE for step in self.targets)

    @property
    def complete(self) -> bool:
        steps: tuple[Step, ...] = (*self.targets, *self.sessions, *self.records, *self.notices)
        return all(step.state is StepState.DONE for step in steps)

    def file_name(self) -> str:
        return f"break-glass-{iso_z(self.started_at).replace(':', '')}-{self.journal_id}.json"


def save(journal: Journal, path: Path) -> None:
    """Atomic replace, owner-only: the journal names people and their access."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(journal.model_dump_json(indent=2))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def load(path: Path) -> Journal:
    return Journal.model_validate_json(path.read_text(encoding="utf-8"))
