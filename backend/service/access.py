"""Holding and releasing one assignment through the overlapping-grant ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backend.domain.ledger import left_behind, needs_restore, plan_release

if TYPE_CHECKING:
    from backend.domain.assignment import AssignmentTarget
    from backend.domain.models import AccessRequest
    from backend.service.unit_of_work import UnitOfWork


def hold_access(uow: UnitOfWork, request: AccessRequest) -> None:
    """Join the ledger first, then make sure the assignment exists (both idempotent)."""
    target = request.target
    uow.ledger.add(target, request.request_id)
    if not uow.assignments.has_assignment(target):
        uow.assignments.create_assignment(target)


def release_access(uow: UnitOfWork, request: AccessRequest) -> bool:
    """Leave the ledger; delete the assignment only if this request was the last holder.

    Returns whether the assignment was deleted. A grant that joined between the check and the
    delete gets its assignment back, so an earlier expiry never removes a later grant.
    """
    target = request.target
    return release_holders(uow, target, frozenset({request.request_id}), uow.ledger.holders(target))


def release_holders(
    uow: UnitOfWork, target: AssignmentTarget, releasing: frozenset[str], holders_read: frozenset[str]
) -> bool:
    """Release ``releasing`` from the ledger entry read as ``holders_read``; returns whether deleted.

    The delete is decided on the entry read and checked against what the ledger holds after the
    holders left (atomic set updates): a holder that joined meanwhile gets the assignment back, and
    if the other holders left meanwhile (each seeing us still holding) we delete it after all.
    """
    deleted = plan_release(holders_read, releasing).delete_assignment
    if deleted:
        uow.assignments.delete_assignment(target)
    remaining = holders_read - releasing
    for request_id in sorted(releasing):
        remaining = uow.ledger.remove(target, request_id)
    if left_behind(deleted, remaining):
        uow.assignments.delete_assignment(target)
        deleted = True
        remaining = uow.ledger.holders(target)
    if needs_restore(deleted, remaining):
        uow.assignments.create_assignment(target)
        return False
    return deleted
