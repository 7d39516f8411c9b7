"""Applying a policy: every user it names is resolved to an Identity Center user id, or it is refused.

Decisions compare ids, so what counts is who the name meant when the policy was applied; a policy
naming someone Identity Center does not know is rejected with the names, and nothing is stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backend.domain.errors import InvalidRequest, PrincipalNotFound

if TYPE_CHECKING:
    from backend.domain.policy import Policy
    from backend.domain.ports import Directory


def resolve_users(policy: Policy, directory: Directory) -> Policy:
    """The policy with ``user_ids`` filled from Identity Center (anything sent there is replaced)."""
    resolved: dict[str, str] = {}
    unknown: list[str] = []
    for name in sorted(policy.named_users, key=str.lower):
        try:
            resolved[name.lower()] = directory.find_user_id(name)
        except PrincipalNotFound:
            unknown.append(name)
    if unknown:
        raise InvalidRequest(
            f"the policy names users Identity Center does not know: {', '.join(unknown)}; nothing was applied"
        )
    return policy.model_copy(update={"user_ids": dict(sorted(resolved.items()))})
