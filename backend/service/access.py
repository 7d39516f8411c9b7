"""Holding and releasing one assignment through the overlapping-grant ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backend.domain.ledger import needs_restore, plan_release

if TYPE_CHECKING:
    from backend.domain.models import AccessRequest
    from backend.service.deps import Deps


def hold_access(deps: Deps, request: AccessRequest) -> None:
    """Join the ledger first, then make sure the assignment exists (both idempotent)."""
    target = request.target
    deps.ledger.add(target, request.request_id)
    if not deps.assignments.has_assignment(target):
        deps.assignments.create_assignment(target)


def release_access(deps: Deps, request: AccessRequest) -> bool:
    """Leave the ledger; delete the assignment only if this request was the last holder.

    Returns whether the assignment was deleted. A grant that joined between the check and the
    delete gets its assignment back, so an earlier expiry never removes a later grant.
    """
    target = request.target
    plan = plan_release(deps.ledger.holders(target), request.request_id)
    if plan.delete_assignment:
        deps.assignments.delete_assignment(target)
    remaining = deps.ledger.remove(target, request.request_id)
    if needs_restore(plan.delete_assignment, remaining):
        deps.assignments.create_assignment(target)
        return False
    return plan.delete_assignment
