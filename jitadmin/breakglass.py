"""Break-glass revoke: delete Identity Center assignments first, record what was done after.

Identity Center is the only thing that must work. The plan is journaled to a local file before the
first delete; recording (REVOKED transition and audit, ledger release, ``access.break_glass`` event)
happens when DynamoDB and SNS work, else later with ``jit-admin break-glass resume <journal>``.
Step Functions is never needed: a waiting workflow finds the request final and ends.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from backend.domain import lifecycle
from backend.domain.errors import ConcurrentUpdate, RequestNotFound
from backend.domain.lifecycle import SessionsEnded
from backend.domain.models import AccessRequest
from backend.service.sessions import deny_sessions
from jitadmin import journal as journal_file
from jitadmin.journal import Journal, NoticeStep, RecordStep, SessionStep, Step, StepState, TargetStep
from jitwire.contract import LifecycleEvent
from jitwire.models import Person, RequestStatus

if TYPE_CHECKING:
    from datetime import datetime

    from backend.domain.assignment import AssignmentTarget
    from backend.service.unit_of_work import UnitOfWork

log = logging.getLogger("jitadmin")

EVENT_TYPE = "access.break_glass"
ALL_CONFIRMATION = "REVOKE ALL"
_RECORD_ATTEMPTS = 3


class NothingToRevoke(Exception):
    """The scope names no access that could be revoked."""


@dataclass(frozen=True)
class Scope:
    kind: Literal["request", "user", "all"]
    value: str = ""

    @property
    def label(self) -> str:
        return "all" if self.kind == "all" else f"{self.kind} {self.value}"

    @property
    def confirmation(self) -> str:
        """What the operator must type: the request id, the user as given, or REVOKE ALL."""
        return ALL_CONFIRMATION if self.kind == "all" else self.value


# -- planning (pure) ------------------------------------------------------------------------------


def plan_steps(
    held: Mapping[AssignmentTarget, frozenset[str]],
    statuses: Mapping[str, RequestStatus | None],
    swept: Iterable[AssignmentTarget],
) -> tuple[tuple[TargetStep, ...], tuple[RecordStep, ...], tuple[NoticeStep, ...]]:
    """Every held target is deleted and each of its holders recorded; swept-only targets get a notice."""
    ordered = sorted(held.items(), key=lambda kv: kv[0].ledger_key)
    targets = [TargetStep(target=t, source="ledger", holders=tuple(sorted(h))) for t, h in ordered]
    records = [
        RecordStep(request_id=request_id, target=t, status_seen=statuses.get(request_id))
        for t, holders in ordered
        for request_id in sorted(holders)
    ]
    extra = sorted(set(swept) - set(held), key=lambda t: t.ledger_key)
    targets += [TargetStep(target=t, source="sweep") for t in extra]
    notices = [NoticeStep(target=t) for t in extra]
    return tuple(targets), tuple(records), tuple(notices)


def new_journal(
    scope: Scope,
    reason: str,
    operator: Person,
    now: datetime,
    steps: tuple[tuple[TargetStep, ...], tuple[RecordStep, ...], tuple[NoticeStep, ...]],
    *,
    end_sessions: bool = True,
) -> Journal:
    """``end_sessions``: also end live AWS sessions of every deleted assignment (``--keep-sessions`` opts out)."""
    targets, records, notices = steps
    if not targets:
        raise NothingToRevoke(f"nothing to revoke for {scope.label}: no active grant and no live assignment found")
    return Journal(
        journal_id=uuid.uuid4().hex[:12],
        scope=scope.label,
        reason=reason,
        operator=operator,
        started_at=now,
        targets=targets,
        records=records,
        notices=notices,
        sessions=tuple(SessionStep(target=t.target) for t in targets) if end_sessions else (),
    )


# -- gathering (reads only) -----------------------------------------------------------------------


def _statuses(uow: UnitOfWork, request_ids: Iterable[str]) -> dict[str, RequestStatus | None]:
    found: dict[str, RequestStatus | None] = {}
    for request_id in sorted(set(request_ids)):
        try:
            found[request_id] = uow.store.get(request_id).status
        except RequestNotFound:
            found[request_id] = None
    return found


def _live_assignments(uow: UnitOfWork, principals: set[str]) -> set[AssignmentTarget]:
    """Live USER assignments of the managed permission sets, for the given principals only."""
    policy = uow.policies.current()
    live: set[AssignmentTarget] = set()
    for ps_name in sorted(policy.managed_permission_sets):
        ps_arn = uow.directory.permission_set_arn(ps_name)
        for account in policy.accounts:
            live.update(
                t for t in uow.assignments.list_user_assignments(account.id, ps_arn) if t.principal_id in principals
            )
    return live


def gather(
    uow: UnitOfWork, scope: Scope, *, sweep: bool = True
) -> tuple[tuple[TargetStep, ...], tuple[RecordStep, ...], tuple[NoticeStep, ...]]:
    """Read what the scope covers: ledger holders, their statuses and (optionally) live assignments."""
    if scope.kind == "request":
        request = uow.store.get(scope.value)
        if not request.status.holds_access:
            raise NothingToRevoke(
                f"request {request.request_id} is {request.status}; it holds no access. "
                "To remove a person's access whatever its origin, use --user"
            )
        holders = uow.ledger.holders(request.target) | {request.request_id}
        return plan_steps({request.target: holders}, _statuses(uow, holders), ())
    ledger = {t: h for t, h in uow.ledger.all().items() if h}
    if scope.kind == "user":
        principal = uow.directory.find_user_id(scope.value)
        ledger = {t: h for t, h in ledger.items() if t.principal_id == principal}
        principals = {principal}
    else:
        principals = {t.principal_id for t in ledger}
    swept = _live_assignments(uow, principals) if sweep and principals else set()
    holders_all = {request_id for holders in ledger.values() for request_id in holders}
    return plan_steps(ledger, _statuses(uow, holders_all), swept)


# -- execution ------------------------------------------------------------------------------------

Progress = Callable[[str], None]
S = TypeVar("S", bound=Step)


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _detail(journal: Journal) -> str:
    return f"break-glass by {journal.operator.email} ({journal.scope}): {journal.reason}"[:1000]


def _phase(
    steps: tuple[S, ...],
    ready: Callable[[S], bool],
    act: Callable[[S], Mapping[str, object] | None],
    label: Callable[[S], str],
    save: Callable[[tuple[S, ...]], None],
    tick: Progress,
) -> tuple[S, ...]:
    """Run every step not yet done; one failure never stops the others. ``save`` after each."""
    current = list(steps)
    for index, step in enumerate(current):
        if step.state is not StepState.DONE and ready(step):
            try:
                learned = act(step) or {}
            except Exception as exc:  # noqa: BLE001 - recorded in the journal; resume retries it
                log.warning("break-glass step %s failed: %s", label(step), _error(exc))
                current[index] = step.model_copy(update={"state": StepState.FAILED, "error": _error(exc)})
            else:
                current[index] = step.model_copy(update={"state": StepState.DONE, "error": None, **learned})
            save(tuple(current))
        tick(label(step))
    return tuple(current)


def execute(uow: UnitOfWork, journal: Journal, path: Path, progress: Progress | None = None) -> Journal:
    """Delete, then record; the journal on disk reflects every step. Safe to run again (resume)."""
    tick = progress or (lambda _label: None)
    state = [journal]

    def save(**update: object) -> None:
        state[0] = state[0].model_copy(update=update)
        journal_file.save(state[0], path)

    journal_file.save(journal, path)
    targets = _phase(
        journal.targets,
        lambda _step: True,
        lambda step: uow.assignments.delete_assignment(step.target),
        lambda step: f"delete {step.target.ledger_key}",
        lambda steps: save(targets=steps),
        tick,
    )
    deleted = {step.target for step in targets if step.state is StepState.DONE}
    sessions = _phase(
        journal.sessions,
        lambda step: step.target in deleted,
        lambda step: _end_sessions(uow, state[0], step),
        lambda step: f"end sessions {step.target.ledger_key}",
        lambda steps: save(sessions=steps),
        tick,
    )
    ended = {step.target: step for step in sessions if step.state is StepState.DONE}
    _phase(
        journal.records,
        # Only then REVOKED: a request whose sessions could not be ended waits for resume.
        lambda step: step.target in deleted and (not journal.sessions or step.target in ended),
        lambda step: _record(uow, state[0], step, ended.get(step.target)),
        lambda step: f"record {step.request_id}",
        lambda steps: save(records=steps),
        tick,
    )
    _phase(
        journal.notices,
        lambda step: step.target in deleted,
        lambda step: _notify(uow, state[0], step.target),
        lambda step: f"notify {step.target.ledger_key}",
        lambda steps: save(notices=steps),
        tick,
    )
    return state[0]


def step_count(journal: Journal) -> int:
    return len(journal.targets) + len(journal.sessions) + len(journal.records) + len(journal.notices)


def _end_sessions(uow: UnitOfWork, journal: Journal, step: SessionStep) -> dict[str, object]:
    """What was provisioned is kept on the step, so each record (even after resume) carries it."""
    done = deny_sessions(
        uow, step.target, who=f"break-glass {journal.journal_id} ({journal.scope})", without_dynamodb=True
    )
    return {"ended_at": done.at, "until": done.until, "wide": done.wide}


def _record(uow: UnitOfWork, journal: Journal, record: RecordStep, session: SessionStep | None = None) -> None:
    """Final status, audit and event in one conditional write, then leave the ledger (idempotent)."""
    for attempt in range(_RECORD_ATTEMPTS):
        try:
            request: AccessRequest | None = uow.store.get(record.request_id)
        except RequestNotFound:
            request = None
        after = _revoked(request, journal, session) if request is not None else None
        if request is None or after is None:
            break
        entry = uow.entry(EVENT_TYPE, journal.operator, request.status, after.status, _detail(journal))
        try:
            uow.commit(request, after, entry)
        except ConcurrentUpdate:  # the workflow moved it meanwhile: look again
            if attempt == _RECORD_ATTEMPTS - 1:
                raise
            continue
        break
    uow.ledger.remove(record.target, record.request_id)


def _revoked(request: AccessRequest, journal: Journal, session: SessionStep | None) -> AccessRequest | None:
    if request.status is RequestStatus.GRANTED:
        ended = None
        if session is not None and session.ended_at is not None and session.until is not None:
            ended = SessionsEnded(at=session.ended_at, until=session.until, wide=session.wide)
        return lifecycle.revoke(request, ended)
    if request.status is RequestStatus.APPROVED:  # grant in flight: it must not complete
        return lifecycle.fail(request, _detail(journal))
    return None  # already final


def _notify(uow: UnitOfWork, journal: Journal, target: AssignmentTarget) -> None:
    event_id = uuid.uuid4().hex
    event = LifecycleEvent(
        event_id=event_id,
        type=EVENT_TYPE,
        occurred_at=uow.now(),
        actor=journal.operator,
        request=None,
        detail=f"removed {target.ledger_key}, which no active request held. {_detail(journal)}",
    )
    uow.events.publish(event_id, EVENT_TYPE, event.model_dump_json())
