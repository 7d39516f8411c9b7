"""Who is acting: the Mattermost account resolved through its stored Identity Center binding.

The first time an account acts, and only if the bot vouched for its e-mail address, it is bound to
the Identity Center user with that address. From then on the binding decides; the e-mail text in a
request is only compared with it, so changing an address in Mattermost moves no authority
(docs/identity.md).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from backend.domain.errors import (
    BindingExists,
    IdentityMismatch,
    IdentityNotVouched,
    IdentityTaken,
    PrincipalNotFound,
)
from backend.domain.models import Identity, IdentityBinding
from jitwire.models import Person

if TYPE_CHECKING:
    from backend.domain.policy import Policy, Rule
    from backend.service.unit_of_work import UnitOfWork

log = logging.getLogger("backend.identity")

ASK_AN_ADMIN = "ask a JIT admin to check your link (jit-admin identities)"


def identify(uow: UnitOfWork, person: Person) -> Identity:
    """The acting account's Identity Center user and groups, binding it on first use."""
    return with_groups(uow, bound_identity(uow, person))


def with_groups(uow: UnitOfWork, who: Identity) -> Identity:
    return who.model_copy(update={"groups": uow.directory.group_names_for_user(who.principal_id)})


def bound_identity(uow: UnitOfWork, person: Person) -> Identity:
    """The acting account's Identity Center user, binding it on first use; its groups are not looked
    up (left empty). Enough to recognise a requester, never to grant what a group may do."""
    binding = uow.identities.get(person.user_id)
    if binding is None:
        binding = _bind(uow, person)
    elif binding.email.lower() != person.email.lower():
        log.warning(
            "SECURITY identity mismatch: Mattermost user %r is bound to Identity Center user %s by e-mail %r "
            "but now presents %r; refused",
            person.user_id,
            binding.principal_id,
            binding.email,
            person.email,
        )
        raise IdentityMismatch(
            f"your Mattermost e-mail address ({person.email}) is not the one your account was linked with "
            f"({binding.email}); nothing was done. If the change is genuine, {ASK_AN_ADMIN}"
        )
    return Identity(person=person, principal_id=binding.principal_id)


def bound_approvers(uow: UnitOfWork, policy: Policy, rule: Rule, requester_principal_id: str) -> tuple[str, ...]:
    """Mattermost user ids of the accounts bound to an eligible approver of ``rule`` (not the requester).

    Only bound accounts can be told by DM; an approver without a binding sees the channel card.
    The binding table is small (one row per person who ever acted) and group names are cached.
    """
    found: list[str] = []
    for binding in uow.identities.all():
        if binding.principal_id == requester_principal_id:
            continue
        groups = uow.directory.group_names_for_user(binding.principal_id)
        if policy.includes(
            rule.approvers, Identity(person=_person(binding), principal_id=binding.principal_id, groups=groups)
        ):
            found.append(binding.mattermost_user_id)
    return tuple(sorted(found))


def _person(binding: IdentityBinding) -> Person:
    return Person(user_id=binding.mattermost_user_id, username=binding.mattermost_username, email=binding.email)


def _bind(uow: UnitOfWork, person: Person) -> IdentityBinding:
    if person.vouched_by is None:
        log.warning(
            "identity not vouched: Mattermost user %r (%r) acted unbound; refused", person.user_id, person.email
        )
        raise IdentityNotVouched(
            "the bot cannot vouch for your Mattermost e-mail address (not signed in through SSO, and this "
            f"Mattermost does not require verified e-mail), so it cannot link you to AWS; {ASK_AN_ADMIN}"
        )
    try:
        principal_id = uow.directory.find_user_id(person.email)
    except PrincipalNotFound as exc:
        raise PrincipalNotFound(f"no Identity Center user has the e-mail {person.email}") from exc
    binding = IdentityBinding(
        mattermost_user_id=person.user_id,
        mattermost_username=person.username,
        principal_id=principal_id,
        email=person.email,
        bound_at=uow.now(),
        verified_by=person.vouched_by,
    )
    try:
        uow.identities.bind(binding)
    except BindingExists:  # a concurrent first action bound it: use what won
        won = uow.identities.get(person.user_id)
        if won is None:  # pragma: no cover - removed in between; the caller retries
            raise
        if won.email.lower() != person.email.lower():
            raise IdentityMismatch(f"your account was just linked with another address; {ASK_AN_ADMIN}") from None
        return won
    except IdentityTaken:
        log.warning(
            "SECURITY identity taken: Mattermost user %r (%r) asked for Identity Center user %s, "
            "which another Mattermost account holds; refused",
            person.user_id,
            person.email,
            principal_id,
        )
        raise IdentityTaken(
            f"the AWS identity for {person.email} is already linked to another Mattermost account; "
            f"nothing was done. {ASK_AN_ADMIN}"
        ) from None
    log.info(
        "identity bound: Mattermost user %r (%r) → Identity Center user %s, vouched by %s",
        person.user_id,
        person.email,
        principal_id,
        person.vouched_by,
    )
    return binding
