"""Overlapping grants: who holds one Identity Center assignment (docs/architecture.md, "Request lifecycle").

Several requests may hold the same principal/account/permission set at once; the assignment is
deleted only when the last holder lets go, so an earlier expiry never removes a later grant.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReleasePlan:
    delete_assignment: bool


def plan_release(holders: frozenset[str], releasing: str | frozenset[str]) -> ReleasePlan:
    """Delete the assignment only if nobody but ``releasing`` holds it."""
    leaving = frozenset({releasing}) if isinstance(releasing, str) else releasing
    return ReleasePlan(delete_assignment=not (holders - leaving))


def needs_restore(deleted: bool, remaining_after_release: frozenset[str]) -> bool:
    """A grant joined between our check and our delete: put the assignment back for it."""
    return deleted and bool(remaining_after_release)


def left_behind(deleted: bool, remaining_after_release: frozenset[str]) -> bool:
    """Everyone else let go while we released, each seeing the other still holding: delete now."""
    return not deleted and not remaining_after_release
